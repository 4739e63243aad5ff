package smtpd

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"net/smtp"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/routing"
)

func TestEHLO(t *testing.T) {
	t.Parallel()
	cert, key := selfSigned(t)
	tests := []struct {
		name      string
		connector string
		tls       bool
		opts      []option
		want      []string
		not       []string
	}{
		{"smtp", "Default", false, nil,
			[]string{"SIZE 35000000", "8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES", "SMTPUTF8", "DSN"},
			[]string{"STARTTLS", "AUTH"}},
		{"smtp with TLS", "Default", true, nil, []string{"STARTTLS"}, []string{"AUTH"}},
		{"submission on loopback", "Clients", false, nil, []string{"AUTH PLAIN LOGIN"}, []string{"STARTTLS"}},
		{"submission remote, no TLS yet", "Clients", true, []option{remoteClient}, []string{"STARTTLS"}, []string{"AUTH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, tt.connector, func(rc *config.ReceiveConnector) {
				if tt.tls {
					rc.TLSCert, rc.TLSKey = cert, key
				}
			}, tt.opts...)
			c := h.dial()
			r := c.cmd("EHLO client.fabrikam.test", "250 ")
			if !strings.HasPrefix(r, "250-hub-hq.contoso.test Hello client.fabrikam.test\n") {
				t.Errorf("EHLO reply does not start with the server's name:\n%s", r)
			}
			c.cmd("HELO client.fabrikam.test", "250 hub-hq.contoso.test Hello client.fabrikam.test")
			for _, w := range tt.want {
				if !strings.Contains(r, "250-"+w+"\n") && !strings.HasSuffix(r, "250 "+w) {
					t.Errorf("EHLO reply lacks %q:\n%s", w, r)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(r, n) {
					t.Errorf("EHLO reply has %q:\n%s", n, r)
				}
			}
		})
	}
}

// TestAcceptLocal sends with the standard library's client.
func TestAcceptLocal(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil)
	c, err := smtp.Dial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.fabrikam.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("bob@fabrikam.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("alice@contoso.test"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	const content = "Subject: hello\r\n\r\nHello Alice.\r\n"
	fmt.Fprint(w, content)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}

	msgs := h.q.all()
	if len(msgs) != 1 {
		t.Fatalf("%d messages queued, want 1", len(msgs))
	}
	m := msgs[0]
	env := m.env
	if env.From != "bob@fabrikam.test" || env.Receiver != "Default" || env.Helo != "client.fabrikam.test" ||
		env.Auth != "" || !strings.HasPrefix(env.RemoteAddr, "127.0.0.1:") || env.Arrival.IsZero() {
		t.Errorf("envelope %+v", env)
	}
	if len(env.Recipients) != 1 {
		t.Fatalf("recipients %+v", env.Recipients)
	}
	r := env.Recipients[0]
	if r.Written != "alice@contoso.test" || r.Decision.Outcome != routing.OutcomeMailbox || r.Decision.Mailbox != "Alice Example" || r.Decision.Server != "hub-hq" {
		t.Errorf("recipient %+v", r)
	}
	// The default connector is of kind smtp: sender_auth tag puts the
	// Authentication-Results field first.
	received := regexp.MustCompile(`^Authentication-Results: hub-hq\.contoso\.test;\r\n\tspf=none smtp\.mailfrom=fabrikam\.test;\r\n\tdkim=none;\r\n\tdmarc=permerror\r\n` +
		`Received: from client\.fabrikam\.test \(\[127\.0\.0\.1\]\)\r\n` +
		`\tby hub-hq\.contoso\.test with UTF8SMTP id [0-9a-v]{16}\r\n` + // net/smtp sends SMTPUTF8
		`\tfor <alice@contoso\.test>;\r\n` +
		`\t[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n`)
	loc := received.FindStringIndex(m.body)
	if loc == nil {
		t.Fatalf("no Received header in\n%q", m.body)
	}
	if rest := m.body[loc[1]:]; rest != content {
		t.Errorf("content %q, want %q", rest, content)
	}
	if strings.Contains(m.body, "Return-Path") {
		t.Error("the receiver added a Return-Path")
	}
	if logs := h.logs.String(); !strings.Contains(logs, "msg=accepted connector=Default id=Q0001") {
		t.Errorf("no log line for the message:\n%s", logs)
	}
}

func TestQueuedReply(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil)
	c := h.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test", "a@contoso.test", "sales@contoso.test")
	c.send("Subject: x\r\n\r\nx\r\n.\r\n")
	c.expect("250 2.0.0 Ok: queued as Q0001")
	c.cmd("QUIT", "221 ")
	env := h.q.all()[0].env
	if len(env.Recipients) != 3 || env.Recipients[2].Decision.Outcome != routing.OutcomeExpanded {
		t.Errorf("recipients %+v", env.Recipients)
	}
	if strings.Contains(h.q.all()[0].body, "\tfor <") {
		t.Error("Received names a recipient of a message with several")
	}
}

func TestRcptRefusals(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxErrors = 11 }) // ten refusals below
	c := h.hello()
	c.cmd("MAIL FROM:<bob@b@fabrikam.test>", "553 5.1.7 ")
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "503 5.5.1 ")
	for _, tt := range []struct{ rcpt, want string }{
		{"<nobody@contoso.test>", "550 5.1.1 <nobody@contoso.test>: "},
		{"<IMCEASMTP-bob+40fabrikam+2Etest@contoso.test>", "550 5.1.0 "},
		{"<[FAX:+1 555 0100]>", "501 5.1.3 "},
		{"<FAX:+15550100@contoso.test>", "501 5.1.3 "},
		{"<Legal Fax[FAX:+1 555 0199]>", "501 5.1.3 "},
		{"<>", "501 5.1.3 "},
		{"<a@b@contoso.test>", "501 5.1.3 "},
		{"<jörg@contoso.test>", "553 5.6.7 "},
	} {
		c.cmd("RCPT TO:"+tt.rcpt, tt.want)
	}
	c.cmd("RSET", "250 ")
}

// TestRelayRanges: clients in a connector's relay_ranges (Postfix's
// mynetworks) may relay without AUTH; others may not.
func TestRelayRanges(t *testing.T) {
	t.Parallel()
	trusted := start(t, "Default", func(rc *config.ReceiveConnector) {
		rc.RelayRanges = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	c := trusted.hello()
	c.cmd("MAIL FROM:<app@contoso.test>", "250 ")
	c.cmd("RCPT TO:<bob@fabrikam.test>", "250 ")
	other := start(t, "Default", func(rc *config.ReceiveConnector) {
		rc.RelayRanges = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	c = other.hello()
	c.cmd("MAIL FROM:<app@contoso.test>", "250 ")
	c.cmd("RCPT TO:<bob@fabrikam.test>", "554 5.7.1 Relay access denied")
}

// TestRelay: no relaying for unauthenticated clients of
// an smtp connector, whatever the form.
func TestRelay(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxErrors = 50 })
	c := h.hello()
	c.cmd("MAIL FROM:<>", "250 ")
	for _, rcpt := range []string{
		"<bob@fabrikam.test>",
		`<"bob@fabrikam.test"@contoso.test>`,
		"<bob%fabrikam.test@contoso.test>",
		"<fabrikam.test!bob@contoso.test>",
		"<@contoso.test:bob@fabrikam.test>",
		"<bob@[127.0.0.1]>",
		"<bob@localhost>",
		"<bob@contoso.test.fabrikam.test>",
	} {
		c.cmd("RCPT TO:"+rcpt, "554 5.7.1 Relay access denied")
	}
	// Accepted domains are not relaying: internal and external relay
	// domains go out through the Internet connector, as Exchange's
	// anonymous receive connectors accept mail for every accepted domain.
	c.cmd("RCPT TO:<carol@branch.contoso.test>", "250 ")
	c.cmd("RCPT TO:<dan@partner.test>", "250 ")
	c.cmd("RCPT TO:<A@Contoso.Test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: x\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	rs := h.q.all()[0].env.Recipients
	if len(rs) != 3 || rs[0].Decision.Connector != "Internet" || rs[1].Decision.Connector != "Internet" || rs[2].Decision.Mailbox != "Alice Example" {
		t.Errorf("recipients %+v", rs)
	}
}

func TestSubmission(t *testing.T) {
	t.Parallel()
	h := start(t, "Clients", nil)

	c := h.hello()
	c.cmd("MAIL FROM:<alice@contoso.test>", "530 5.7.0 Authentication required")
	c.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice@contoso.test\x00wrong")), "535 5.7.8 ")
	c.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("bob\x00alice@contoso.test\x00secret")), "535 5.7.8 ")
	c.cmd("AUTH PLAIN !!!", "454 4.7.0 ")
	c.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6")
	c.cmd(base64.StdEncoding.EncodeToString([]byte("alice@contoso.test")), "334 UGFzc3dvcmQ6")
	c.cmd(base64.StdEncoding.EncodeToString([]byte("secret")), "235 ")
	c.cmd("MAIL FROM:<alice@contoso.test>", "250 ")
	c.cmd("RCPT TO:<bob@fabrikam.test> NOTIFY=SUCCESS", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: s\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	if n := h.q.all()[0].env.Recipients[0].Notify; n != "SUCCESS" {
		t.Errorf("an authenticated user's NOTIFY=SUCCESS became %q", n)
	}

	// The third failed AUTH ends the session.
	c = h.hello()
	for i := 0; i < 2; i++ {
		c.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice@contoso.test\x00guess")), "535 5.7.8 ")
	}
	c.cmd("AUTH LOGIN", "334 ")
	c.cmd(base64.StdEncoding.EncodeToString([]byte("alice@contoso.test")), "334 ")
	c.send(base64.StdEncoding.EncodeToString([]byte("guess")) + "\r\n")
	c.expect("535 5.7.8 ")
	c.expect("421 4.7.0 Too many failed authentication attempts")
	c.closed()
	if logs := h.logs.String(); strings.Contains(logs, "guess") || strings.Contains(logs, "Z3Vlc3") {
		t.Errorf("a password is in the log:\n%s", logs)
	}

	// The standard library's client, AUTH PLAIN on loopback, relaying out.
	sc, err := smtp.Dial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.Hello("laptop.contoso.test"); err != nil {
		t.Fatal(err)
	}
	if err := sc.Auth(smtp.PlainAuth("", "alice@contoso.test", "secret", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if err := sc.Mail("alice@contoso.test"); err != nil {
		t.Fatal(err)
	}
	if err := sc.Rcpt("bob@fabrikam.test"); err != nil {
		t.Fatal(err)
	}
	w, err := sc.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "Subject: out\r\n\r\nto the world\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sc.Quit()
	msgs := h.q.all()
	if len(msgs) != 2 { // the NOTIFY=SUCCESS one above, and this one
		t.Fatalf("%d messages", len(msgs))
	}
	msgs = msgs[1:]
	env := msgs[0].env
	if env.Auth != "alice@contoso.test" || env.Receiver != "Clients" || env.Recipients[0].Decision.Outcome != routing.OutcomeConnector || env.Recipients[0].Decision.Connector != "Internet" {
		t.Errorf("envelope %+v", env)
	}
	if !strings.Contains(msgs[0].body, " with UTF8SMTPA id ") { // net/smtp sends SMTPUTF8
		t.Errorf("Received does not say UTF8SMTPA:\n%s", msgs[0].body)
	}
}

// TestSubmissionTLS: AUTH only inside TLS for a remote
// client, input injected after STARTTLS discarded, EHLO needed again, and
// the smuggling checks inside TLS.
func TestSubmissionTLS(t *testing.T) {
	t.Parallel()
	cert, key := selfSigned(t)
	h := start(t, "Clients", func(rc *config.ReceiveConnector) { rc.TLSCert, rc.TLSKey = cert, key }, remoteClient)
	c := h.hello()
	c.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice@contoso.test\x00secret")), "538 5.7.11 ")
	c.send("STARTTLS\r\nRSET\r\n")
	c.expect("220 2.0.0 ")
	c.startTLS()
	c.silent() // RSET, sent in the clear, is not answered inside TLS
	c.cmd("MAIL FROM:<alice@contoso.test>", "503 5.5.1 Send EHLO first")
	r := c.cmd("EHLO laptop.contoso.test", "250 ")
	if !strings.Contains(r, "AUTH PLAIN LOGIN") || strings.Contains(r, "STARTTLS") {
		t.Errorf("EHLO inside TLS:\n%s", r)
	}
	c.cmd("STARTTLS", "503 5.5.1 ")
	c.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice@contoso.test\x00secret")), "235 ")
	c.transaction("alice@contoso.test", "bob@fabrikam.test")
	c.send("Subject: smuggle\r\n\r\nx\n.\nMAIL FROM:<evil@fabrikam.test>\r\nRCPT TO:<bob@fabrikam.test>\r\nDATA\r\nevil\r\n.\r\n")
	c.expect("550 5.5.2 ")
	c.cmd("RSET", "250 ")
	c.silent()
	c.transaction("alice@contoso.test", "bob@fabrikam.test")
	c.send("Subject: fine\r\n\r\nfine\r\n.\r\n")
	c.expect("250 ")
	msgs := h.q.all()
	if len(msgs) != 1 || !strings.Contains(msgs[0].body, " with ESMTPSA id ") {
		t.Fatalf("queued %+v", msgs)
	}
}

func TestIMCEAFax(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil)
	c := h.hello()
	c.transaction("bob@fabrikam.test",
		"IMCEAFAX-+2B1+20555+200199@contoso.test", // a FAX number nobody has: the FAX connector
		"FAX=+15550100@contoso.test",              // RFC 3192: Alice's FAX proxy
		"IMCEASMS-+2B1+20555+200101@contoso.test") // no SMS connector: NDR 5.4.4 later, accepted now
	c.send("Subject: fax\r\n\r\nfax\r\n.\r\n")
	c.expect("250 ")
	rs := h.q.all()[0].env.Recipients
	if len(rs) != 3 {
		t.Fatalf("recipients %+v", rs)
	}
	if d := rs[0].Decision; d.Type != "FAX" || d.Address != "+1 555 0199" || d.Outcome != routing.OutcomeConnector || d.Connector != "Fax" || rs[0].Written != "IMCEAFAX-+2B1+20555+200199@contoso.test" {
		t.Errorf("IMCEAFAX: %+v", rs[0])
	}
	if d := rs[1].Decision; d.Type != "FAX" || d.Outcome != routing.OutcomeMailbox || d.Mailbox != "Alice Example" {
		t.Errorf("RFC 3192: %+v", rs[1])
	}
	if d := rs[2].Decision; d.Type != "SMS" || d.Outcome != routing.OutcomeNDR || d.Status != "5.4.4" {
		t.Errorf("IMCEASMS: %+v", rs[2])
	}
}

// TestTooBig: a SIZE over max_message_size is refused at MAIL (RFC 1870),
// and data over it after the end of data, with lines after a bare-LF dot
// taken as data, never as commands; nothing is queued.
func TestTooBig(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxMessageSize = 2000 })
	c := h.hello()
	c.cmd("MAIL FROM:<bob@fabrikam.test> SIZE=2001", "552 5.3.4 ")
	c.cmd("MAIL FROM:<bob@fabrikam.test> SIZE=1000", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	c.cmd("DATA", "354 ")
	big := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 98)+"\r\n", 30)
	c.send(big + ".\nHELP\r\nHELP\r\n.\r\n")
	c.expect("552 5.3.4 ")
	c.silent() // the HELP lines were data: not answered
	c.cmd("QUIT", "221 ")
	if n := len(h.q.all()); n != 0 {
		t.Errorf("%d messages queued", n)
	}
}

// TestHopCount: more Received fields than max_hop_count (30) is refused
// with 554 5.4.6 (exchange-semantics.md section 5.4); exactly 30 passes.
func TestHopCount(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil)
	c := h.hello()
	for _, n := range []int{31, 30} {
		c.transaction("bob@fabrikam.test", "alice@contoso.test")
		c.send(strings.Repeat("Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n", n) + "Subject: loop\r\n\r\nbody\r\n.\r\n")
		if n > 30 {
			c.expect("554 5.4.6 Hop count exceeded - possible mail loop")
		} else {
			c.expect("250 ")
		}
	}
	msgs := h.q.all()
	if len(msgs) != 1 || strings.Count(msgs[0].body, "Received:") != 31 {
		t.Errorf("queued %d", len(msgs))
	}
}

// TestQueueFailure: when the queue cannot write a message the client gets
// 451 4.3.0 (try again), nothing is queued and the error is logged.
func TestQueueFailure(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil)
	h.q.setFail(errors.New("fsync: input/output error"))
	c := h.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: x\r\n\r\nx\r\n.\r\n")
	c.expect("451 4.3.0 Queue write failed, try again later")
	c.cmd("RSET", "250 ")
	if n := len(h.q.all()); n != 0 {
		t.Errorf("%d messages queued", n)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "input/output error") {
		t.Errorf("the queue error is not logged:\n%s", logs)
	}
}

// TestDSN covers RET, ENVID, NOTIFY and ORCPT of every address type
// (and control characters in xtext, RFC 3461 section 4).
func TestDSN(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil)
	c := h.hello()
	c.cmd("MAIL FROM:<bob@fabrikam.test> RET=HDRS ENVID=QQ+2B1", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test> NOTIFY=NEVER,FAILURE", "501 5.5.4 ")
	c.cmd("RCPT TO:<alice@contoso.test> ORCPT=rfc822;a+0D+0AX-Injected:+20yes@contoso.test", "501 5.5.4 ")
	c.cmd("RCPT TO:<alice@contoso.test> ORCPT=x400;c+3DUS+0D+0A", "501 5.5.4 ")
	c.cmd("RCPT TO:<alice@contoso.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Alice+40contoso.test", "250 ")
	c.cmd("RCPT TO:<IMCEAFAX-+2B1+20555+200199@contoso.test> ORCPT=x400;c+3DUS+3Ba+3D+20+3Bp+3DContoso+3Bs+3DSmith NOTIFY=NEVER", "250 ")
	c.cmd("RCPT TO:<sales@contoso.test> NOTIFY=DELAY ORCPT=utf-8;sales@contoso.test", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: dsn\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	env := h.q.all()[0].env
	if env.EnvID != "QQ+1" || env.Ret != "HDRS" {
		t.Errorf("ENVID %q RET %q", env.EnvID, env.Ret)
	}
	want := []struct{ orcpt, notify string }{
		{"rfc822;Alice@contoso.test", "FAILURE"}, // SUCCESS from an anonymous port-25 client is ignored
		{"x400;c=US;a= ;p=Contoso;s=Smith", "NEVER"},
		{"utf-8;sales@contoso.test", "DELAY"},
	}
	if len(env.Recipients) != len(want) {
		t.Fatalf("recipients %+v", env.Recipients)
	}
	for i, w := range want {
		if r := env.Recipients[i]; r.ORCPT != w.orcpt || r.Notify != w.notify {
			t.Errorf("recipient %d: ORCPT %q NOTIFY %q, want %q %q", i, r.ORCPT, r.Notify, w.orcpt, w.notify)
		}
	}
}

// TestLimits: recipients past max_recipients get 452 4.5.3 and a duplicate
// counts once; max_errors ends the session with 421; a command line over
// max_line_length is refused.
func TestLimits(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxRecipients = 3; rc.MaxErrors = 5 })
	c := h.hello()
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 2.1.5 Duplicate recipient")
	c.cmd("RCPT TO:<a@contoso.test>", "250 ") // the third, counting the repeated one
	c.cmd("RCPT TO:<branch@branch.contoso.test>", "452 4.5.3 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: x\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	if rs := h.q.all()[0].env.Recipients; len(rs) != 2 {
		t.Errorf("%d recipients", len(rs))
	}
	c.transaction("bob@fabrikam.test", "alice@contoso.test") // a second transaction works
	c.send("Subject: x\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")

	// Errors: the fifth (the 452 above was the first) closes the session.
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	for i := 0; i < 3; i++ {
		c.cmd("RCPT TO:<nobody@contoso.test>", "550 5.1.1 ")
	}
	c.send("RCPT TO:<nobody@contoso.test>\r\n")
	c.expect("550 5.1.1 ")
	c.expect("421 4.7.0 Too many errors")
	c.closed()

	// A command line over max_line_length.
	c = h.hello()
	c.send("NOOP " + strings.Repeat("x", 2100) + "\r\n")
	c.expect("500 5.5.2 ")
	c.closed()
	if logs := h.logs.String(); !strings.Contains(logs, "Too many errors") || !strings.Contains(logs, "msg=refused") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestRemoteRanges(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) {
		rc.RemoteRanges = rc.RemoteRanges[:0]
		for _, p := range []string{"10.0.0.0/8", "2001:db8::/32"} {
			rc.RemoteRanges = append(rc.RemoteRanges, mustPrefix(t, p))
		}
	})
	c := h.dialRaw()
	c.expect("554 5.7.1 ")
	c.closed()
}

func TestSMTPUTF8(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil)
	c := h.hello()
	c.cmd("MAIL FROM:<jörg@fabrikam.test>", "553 5.6.7 ")
	c.cmd("MAIL FROM:<jörg@fabrikam.test> SMTPUTF8", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: grüße\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	m := h.q.all()[0]
	if m.env.From != "jörg@fabrikam.test" || !strings.Contains(m.body, " with UTF8SMTP id ") {
		t.Errorf("%+v", m)
	}
}

func TestChunking(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil)
	c := h.hello()
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	c.send("BDAT 22\r\nSubject: a\r\n\r\nSTARTTLS")
	c.expect("250 ")
	c.send("BDAT 5 LAST\r\n\r\n.\r\n")
	c.expect("250 2.0.0 Ok: queued as Q0001")
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	c.send("BDAT 16 LAST\r\nSubject: b\n\nbad\n")
	c.expect("550 5.5.2 ")
	c.cmd("RSET", "250 ")
	msgs := h.q.all()
	if len(msgs) != 1 || !strings.HasSuffix(msgs[0].body, "Subject: a\r\n\r\nSTARTTLS\r\n.\r\n") {
		t.Errorf("queued %+v", msgs)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil)
	idle := h.hello()
	busy := h.hello()
	busy.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	busy.cmd("RCPT TO:<alice@contoso.test>", "250 ")

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- h.l.Shutdown(ctx)
	}()
	idle.expect("421 4.3.2 ")
	idle.closed()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a transaction open", err)
	case <-time.After(100 * time.Millisecond):
	}
	busy.cmd("DATA", "354 ")
	busy.send("Subject: last\r\n\r\nx\r\n.\r\n")
	busy.expect("250 ")
	busy.expect("421 4.3.2 ")
	busy.closed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := len(h.q.all()); n != 1 {
		t.Errorf("%d messages queued", n)
	}
}
