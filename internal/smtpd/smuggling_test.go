package smtpd

import (
	"fmt"
	"net/netip"
	"net/smtp"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/config"
)

// smuggled is what a smuggling attempt hides after a fake end of data: a
// whole second transaction. It must never be executed.
const smuggled = "MAIL FROM:<evil@fabrikam.test>\r\nRCPT TO:<alice@contoso.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n"

// TestSmuggling: SMTP smuggling (the hannob/smtpsmug sequences and a few
// more): each is data, the message is refused after the real end of data
// with exactly one reply, nothing is queued, and the session stays in step.
func TestSmuggling(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxErrors = 100 })
	c := h.hello()
	runSmuggling(t, h, c, smugglingCases)
	c.t = t
	// An end of data after a stray CR is still the end of data (RFC 5321
	// section 4.1.1.4; go-smtp alone would miss it): the message is refused
	// for the CR and what follows is read as commands, in step.
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: cr\r\n\r\nx\r\r\n.\r\nNOOP\r\n")
	c.expect("550 5.5.2 ")
	c.expect("250 ")
	if logs := h.logs.String(); !strings.Contains(logs, "Bare CR or LF") {
		t.Errorf("refusals are not logged:\n%s", logs)
	}
}

// smugglingCase is a sequence hidden in a message and the reply it gets.
type smugglingCase struct{ name, seq, want string }

// smugglingCases are the hannob/smtpsmug sequences and a few more.
var smugglingCases = []smugglingCase{
	{"LF.LF", "\n.\n", "550 5.5.2 "},
	{"LF.CRLF", "\n.\r\n", "550 5.5.2 "},
	{"CRLF.LF", "\r\n.\n", "550 5.5.2 "},
	{"CR.CR", "\r.\r", "550 5.5.2 "},
	{"CR.LF", "\r.\n", "550 5.5.2 "},
	{"LF.CR", "\n.\r", "550 5.5.2 "},
	{"CR.CRLF", "\r.\r\n", "550 5.5.2 "},
	{"CRLF.CR", "\r\n.\r", "550 5.5.2 "}, // go-smtp alone would drop the ".<CR>" unseen
	{"CRLF NUL.CRLF", "\r\n\x00.\r\n", "550 5.6.0 NUL"},
	{"CRCRLF.CRCRLF", "\r\r\n.\r\r\n", "550 5.5.2 "},
	{"bare CR", "\rno dot\r\n", "550 5.5.2 "},
	{"bare LF", "\nno dot\r\n", "550 5.5.2 "},
}

// runSmuggling sends each case in its own transaction on c: each must be
// refused with exactly one reply, nothing queued, the session in step.
func runSmuggling(t *testing.T, h *harness, c *client, tests []smugglingCase) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.transaction("bob@fabrikam.test", "alice@contoso.test")
			c.send("Subject: test\r\n\r\nhello" + tt.seq + smuggled + "\r\n.\r\n")
			c.expect(tt.want)
			c.cmd("RSET", "250 ") // in step: no reply to any smuggled command
			c.silent()
			if n := len(h.q.all()); n != 0 {
				t.Fatalf("%d messages queued", n)
			}
		})
	}
}

// TestPipelining: MAIL, RCPT and DATA pipelined after an end of data are
// answered in order (RFC 2920 section 3.1); message content sent before
// its 354 is refused with 554 5.5.0, closes the session and is not queued.
func TestPipelining(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil)

	// Legal (RFC 2920 section 3.1): after the end of data, MAIL, RCPT and
	// DATA in the same packet, then wait for 354.
	c := h.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: 1\r\n\r\none\r\n.\r\nMAIL FROM:<bob@fabrikam.test>\r\nRCPT TO:<alice@contoso.test>\r\nDATA\r\n")
	c.expect("250 2.0.0 Ok: queued as Q0001")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send("Subject: 2\r\n\r\ntwo\r\n.\r\n")
	c.expect("250 2.0.0 Ok: queued as Q0002")

	// Violation: message 2's content before its 354.
	c = h.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: 3\r\n\r\nthree\r\n.\r\nMAIL FROM:<bob@fabrikam.test>\r\nRCPT TO:<alice@contoso.test>\r\nDATA\r\nSubject: 4\r\n\r\nfour\r\n.\r\n")
	c.expect("250 2.0.0 Ok: queued as Q0003")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("554 5.5.0 ")
	c.closed()
	msgs := h.q.all()
	if len(msgs) != 3 {
		t.Fatalf("%d messages queued, want 3", len(msgs))
	}
	for _, m := range msgs {
		if strings.Contains(m.body, "four") {
			t.Errorf("message 4 was queued: %q", m.body)
		}
	}
	if logs := h.logs.String(); !strings.Contains(logs, "pipelining violation") {
		t.Errorf("not logged:\n%s", logs)
	}
}

// TestDotStuffing: lines ".", "..", ".x" survive byte for byte.
func TestDotStuffing(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil)
	c, err := smtp.Dial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, step := range []func() error{
		func() error { return c.Hello("client.fabrikam.test") },
		func() error { return c.Mail("bob@fabrikam.test") },
		func() error { return c.Rcpt("alice@contoso.test") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	const content = "Subject: dots\r\n\r\n.\r\n..\r\n.x\r\n...\r\n. \r\nend\r\n"
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, content) // the client stuffs the dots
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	msgs := h.q.all()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	body := msgs[0].body
	if i := strings.Index(body, "Subject: dots"); i < 0 || body[i:] != content {
		t.Errorf("content %q, want %q", body, content)
	}
}

// TestBareLFAllowList: bare LF from a client in bare_lf_ranges
// is made CRLF and accepted; the same bytes from any other client are
// refused; a bare CR is refused from both; and no bare-LF form of a lone
// dot ends the data or lets a second message in (TestSmuggling holds for
// the allow-listed client too).
func TestBareLFAllowList(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) {
		rc.MaxErrors = 100
		rc.BareLFRanges = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	})
	legacy := h.helloFrom("127.0.0.2")

	// Bare LF line ends, a dot-stuffed line after one, an empty line made
	// of a bare LF, and a CRLF line: kept with CRLF.
	legacy.transaction("app@contoso.test", "alice@contoso.test")
	legacy.send("Subject: legacy\n\nline one\n..stuffed\n\nlast\r\n.\r\n")
	legacy.expect("250 ")
	msgs := h.q.all()
	if len(msgs) != 1 {
		t.Fatalf("%d messages queued", len(msgs))
	}
	const want = "Subject: legacy\r\n\r\nline one\r\n.stuffed\r\n\r\nlast\r\n"
	if body := msgs[0].body; !strings.HasSuffix(body, "\r\n"+want) || strings.Count(body, "\n") != strings.Count(body, "\r\n") {
		t.Errorf("content %q, want it to end in %q with CRLF only", body, want)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "bare LF line ends made CRLF") {
		t.Errorf("the fix-up is not logged:\n%s", logs)
	}

	// The smuggling sequences are refused for the allow-listed client too,
	// each after the real end of data, with nothing queued and the session
	// in step; only the plain bare LF case is now accepted.
	var cases []smugglingCase
	for _, c := range smugglingCases {
		if c.name != "bare LF" {
			cases = append(cases, c)
		}
	}
	cases = append(cases, smugglingCase{"LF.LF then LF.CRLF", "\n.\n\n.\r\n", "550 5.5.2 Bare LF next to a lone dot"})
	h.q.mu.Lock()
	h.q.msgs = nil
	h.q.mu.Unlock()
	runSmuggling(t, h, legacy, cases)
	legacy.t = t

	// What the smuggling refusal says for <LF>.<LF>.
	legacy.transaction("app@contoso.test", "alice@contoso.test")
	legacy.send("Subject: x\n\nx\n.\n" + smuggled + "\r\n.\r\n")
	legacy.expect("550 5.5.2 Bare LF next to a lone dot in message; only CRLF.CRLF ends the data")
	legacy.cmd("RSET", "250 ")
	legacy.silent()
	// A lone dot with a bare LF as the first line of the data.
	legacy.transaction("app@contoso.test", "alice@contoso.test")
	legacy.send(".\n" + smuggled + "\r\n.\r\n")
	legacy.expect("550 5.5.2 Bare LF next to a lone dot")
	legacy.cmd("RSET", "250 ")
	legacy.silent()

	// A client outside the list: the same bytes are refused.
	other := h.hello()
	other.transaction("app@contoso.test", "alice@contoso.test")
	other.send("Subject: legacy\n\nline one\n..stuffed\n\nlast\r\n.\r\n")
	other.expect("550 5.5.2 Bare CR or LF in message")
	other.cmd("RSET", "250 ")
	if n := len(h.q.all()); n != 0 {
		t.Errorf("%d messages queued", n)
	}
}
