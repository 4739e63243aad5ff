package smtpd

import (
	"testing"

	"github.com/waypost/waypost/internal/config"
)

// Every RCPT counts toward max_recipients, a repeated one too, and a
// recipient named twice is queued once.
func TestRepeatedRecipients(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxRecipients = 3 })
	c := h.hello()
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 2.1.5 Duplicate recipient")
	c.cmd("RCPT TO:<ALICE@contoso.test>", "250 2.1.5 Duplicate recipient")
	c.cmd("RCPT TO:<alice@contoso.test>", "452 4.5.3 ")
	c.cmd("RCPT TO:<sales@contoso.test>", "452 4.5.3 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: x\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	if rs := h.q.all()[0].env.Recipients; len(rs) != 1 || rs[0].Written != "alice@contoso.test" {
		t.Errorf("recipients %+v, want alice@contoso.test once", rs)
	}
}
