package smtpd

import (
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/config"
)

// TestBadCommands: unknown and malformed commands count against max_errors
// (go-smtp alone closes at the fourth), and a web client is cut off at once.
func TestBadCommands(t *testing.T) {
	t.Parallel()
	ev := &counts{}
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxErrors = 6 }, ev.option)
	c := h.hello()
	c.cmd("XYZZ plugh", "500 5.5.2 Command unrecognized: XYZZ")
	c.cmd("", "500 5.5.2 ")
	c.cmd("NO", "501 5.5.2 ")
	c.cmd("NOOPS", "501 5.5.2 ")
	c.cmd("FOOO bar", "500 5.5.2 ")
	c.cmd("NOOP", "250 ") // five errors: still open
	c.send("BAZZ\r\n")    // the sixth: max_errors reached, closed
	c.expect("500 5.5.2 ")
	c.expect("421 4.7.0 Too many errors")
	c.closed()

	c = h.dial()
	c.send("GET / HTTP/1.1\r\nHost: hub-hq.contoso.test\r\n\r\n")
	c.expect("554 5.5.1 Not an SMTP command")
	c.closed()
	if got := ev.rejected("500 5.5.2"); got != 4 {
		t.Errorf("OnReject(500, 5.5.2) called %d times, want 4", got)
	}
}

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
