package smtpd

import (
	"testing"

	"github.com/waypost/waypost/internal/config"
)

// max_errors refused commands end the session: the last of them is
// followed by 421 4.7.0 and the close, not one more.
func TestMaxErrorsExactly(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxErrors = 3 })
	c := h.hello()
	c.cmd("XYZZ", "500 5.5.2 ")
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	c.cmd("RCPT TO:<nobody@contoso.test>", "550 5.1.1 ")
	c.send("RCPT TO:<nobody@contoso.test>\r\n")
	c.expect("550 5.1.1 ")
	c.expect("421 4.7.0 Too many errors")
	c.closed()
}
