package smtpd

import (
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/config"
)

// TestHeaderSize: a header section over max_header_size is
// refused with 552 5.3.4 after the end of data, nothing is queued, and the
// session stays in step; a large body under a small header is fine, and so
// is a message whose first line is not a header field.
func TestHeaderSize(t *testing.T) {
	t.Parallel()
	ev := &counts{}
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxHeaderSize = 2000 }, ev.option)
	c := h.hello()
	field := "X-Filler: " + strings.Repeat("f", 88) + "\r\n" // 100 bytes
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send(strings.Repeat(field, 21) + "Subject: big header\r\n\r\nbody\r\n.\r\nNOOP\r\n")
	c.expect("552 5.3.4 Message header section too big; the limit is 2000 bytes")
	c.expect("250 ") // NOOP: in step
	if n := len(h.q.all()); n != 0 {
		t.Fatalf("%d messages queued", n)
	}

	// 19 fields and a Subject, under 2000 bytes, and a 10 kB body.
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send(strings.Repeat(field, 19) + "Subject: fits\r\n\r\n" + strings.Repeat(field, 100) + ".\r\n")
	c.expect("250 ")

	// No header section at all: the first line is the body's.
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Hello, no header here\r\n" + strings.Repeat(field, 100) + ".\r\n")
	c.expect("250 ")
	if n := len(h.q.all()); n != 2 {
		t.Fatalf("%d messages queued, want 2", n)
	}
	if got := ev.rejected("552 5.3.4"); got != 1 {
		t.Errorf("OnReject(552, 5.3.4) called %d times, want 1", got)
	}
	if s := ev.snapshot(); len(s.accepted) != 2 || s.accepted[0] < 10000 {
		t.Errorf("OnAccept sizes %v", s.accepted)
	}
}

// TestExactSize: a message of exactly max_message_size is accepted (go-smtp
// alone refuses it), one byte more is refused, and EHLO advertises the
// limit itself.
func TestExactSize(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxMessageSize = 2000 })
	c := h.dial()
	if r := c.cmd("EHLO client.fabrikam.test", "250 "); !strings.Contains(r, "250-SIZE 2000\n") {
		t.Errorf("EHLO does not advertise SIZE 2000:\n%s", r)
	}
	head := "Subject: exact\r\n\r\n"
	line := strings.Repeat("x", 98) + "\r\n"
	body := head + strings.Repeat(line, 19) + strings.Repeat("y", 2000-len(head)-19*100-2) + "\r\n"
	if len(body) != 2000 {
		t.Fatalf("test message is %d bytes", len(body))
	}
	c.cmd("MAIL FROM:<bob@fabrikam.test> SIZE=2001", "552 5.3.4 ")
	c.cmd("MAIL FROM:<bob@fabrikam.test> SIZE=2000", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send(body + ".\r\n")
	c.expect("250 ")
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("z" + body + ".\r\n")
	c.expect("552 5.3.4 ")
	c.cmd("RSET", "250 ")
	if msgs := h.q.all(); len(msgs) != 1 || !strings.HasSuffix(msgs[0].body, body) {
		t.Errorf("queued %d", len(msgs))
	}
}
