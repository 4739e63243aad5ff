package smtpd

import (
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/config"
)

// RFC 5321 section 4.5.1: RCPT TO:<Postmaster> without a domain is
// accepted, in any case, and reaches the postmaster of the organization's
// default domain.
func TestPostmasterWithoutDomain(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil)
	c := h.hello()
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	c.cmd("RCPT TO:<postmaster>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: to the postmaster\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	c = h.hello()
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	c.cmd("RCPT TO:<PostMaster> NOTIFY=FAILURE", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: again\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	msgs := h.q.all()
	if len(msgs) != 2 {
		t.Fatalf("%d messages queued, want 2", len(msgs))
	}
	for _, m := range msgs {
		r := m.env.Recipients
		if len(r) != 1 || !strings.EqualFold(r[0].Written, "postmaster@contoso.test") || r[0].Decision.Mailbox != "Postmaster" {
			t.Errorf("recipients %+v, want the postmaster mailbox of contoso.test", r)
		}
	}
	// A local part that only starts like it is still a bad address.
	c = h.hello()
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	c.cmd("RCPT TO:<postmasters>", "501 ")
}

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
