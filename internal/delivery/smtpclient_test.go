package delivery

import (
	"context"
	"strings"
	"testing"
	"time"
)

// With PIPELINING offered, MAIL, every RCPT and DATA reach the server in
// one read, and the replies are matched to them in order: the refused
// recipient in the middle (a multi-line reply) fails, the others are sent.
func TestSMTPPipelinesEnvelope(t *testing.T) {
	s := startRawServer(t, nil)
	a := &SMTP{Hosts: []string{s.addr}, Helo: "hub1.contoso.test", Timeout: 5 * time.Second}
	res := a.Deliver(context.Background(), message("Subject: x\r\n\r\nhi\r\n",
		smtpTo("carol@fabrikam.test"), smtpTo("bad@fabrikam.test"), smtpTo("dave@fabrikam.test")))
	want := []struct {
		class  Class
		status string
	}{{Relayed, "2.0.0"}, {Failed, "5.1.1"}, {Relayed, "2.0.0"}}
	for i, w := range want {
		if res[i].Class != w.class || res[i].Status != w.status {
			t.Errorf("recipient %d: %+v, want %s %s", i, res[i], w.class, w.status)
		}
	}
	if res[1].RemoteText != "550 5.1.1 No such user here\nCheck the address" {
		t.Errorf("the multi-line refusal is not kept: %q", res[1].RemoteText)
	}
	if res[0].RemoteText != "250 2.0.0 Ok: queued as R1" {
		t.Errorf("the reply to the final dot: %q", res[0].RemoteText)
	}
	_, reads, _, messages := s.snapshot()
	envelope := ""
	for _, r := range reads {
		if strings.Contains(r, "MAIL FROM:") {
			envelope = r
		}
	}
	wantEnv := "MAIL FROM:<bob@fabrikam.test> BODY=8BITMIME\r\n" +
		"RCPT TO:<carol@fabrikam.test>\r\nRCPT TO:<bad@fabrikam.test>\r\nRCPT TO:<dave@fabrikam.test>\r\nDATA\r\n"
	if envelope != wantEnv {
		t.Errorf("MAIL, RCPT and DATA did not arrive in one read; reads:\n%q", reads)
	}
	if len(messages) != 1 || messages[0] != "Subject: x\r\n\r\nhi\r\n.\r\n" {
		t.Errorf("messages %q", messages)
	}
}

// A server that answers DATA with 354 though every RCPT was refused gets
// an empty message (the "." line alone) and RSET, and the connection
// carries the next message.
func TestSMTPPipeliningAllRefused(t *testing.T) {
	s := startRawServer(t, func(s *rawServer) { s.always354 = true })
	pool := &Pool{IdleTime: 5 * time.Second}
	defer pool.Close()
	a := &SMTP{Hosts: []string{s.addr}, Helo: "hub1.contoso.test", Timeout: 5 * time.Second, Pool: pool}
	res := a.Deliver(context.Background(), message("x\r\n", smtpTo("bad1@fabrikam.test"), smtpTo("bad2@fabrikam.test")))
	for i, r := range res {
		if r.Class != Failed || r.Status != "5.1.1" {
			t.Errorf("recipient %d: %+v", i, r)
		}
	}
	if pool.Idle() != 1 {
		t.Errorf("the pool keeps %d connections, want 1", pool.Idle())
	}
	if r := a.Deliver(context.Background(), message("y\r\n", smtpTo("carol@fabrikam.test")))[0]; r.Class != Relayed {
		t.Fatalf("the next message: %+v", r)
	}
	accepts, _, lines, messages := s.snapshot()
	if accepts != 1 {
		t.Errorf("%d connections, want 1", accepts)
	}
	if len(messages) != 2 || messages[0] != ".\r\n" || messages[1] != "y\r\n.\r\n" {
		t.Errorf("messages %q, want the empty one and the next", messages)
	}
	if i := index(lines, "RSET"); i < 0 || index(lines[i:], "MAIL FROM:<bob@fabrikam.test> BODY=8BITMIME") < 0 {
		t.Errorf("no RSET before the next MAIL: %q", lines)
	}
}

// Without PIPELINING the client waits for each reply before the next
// command: every read at the server is one command line. It sends no DATA
// when every RCPT was refused, and does not greet again after RSET.
func TestSMTPWithoutPipelining(t *testing.T) {
	s := startRawServer(t, func(s *rawServer) { s.ext = []string{"8BITMIME", "ENHANCEDSTATUSCODES"} })
	pool := &Pool{IdleTime: 5 * time.Second}
	a := &SMTP{Hosts: []string{s.addr}, Helo: "hub1.contoso.test", Timeout: 5 * time.Second, Pool: pool}
	if r := a.Deliver(context.Background(), message("x\r\n", smtpTo("bad@fabrikam.test")))[0]; r.Class != Failed || r.Status != "5.1.1" {
		t.Errorf("%+v", r)
	}
	res := a.Deliver(context.Background(), message("y\r\n",
		smtpTo("carol@fabrikam.test"), smtpTo("bad2@fabrikam.test"), smtpTo("dave@fabrikam.test")))
	if res[0].Class != Relayed || res[1].Class != Failed || res[2].Class != Relayed {
		t.Errorf("%+v", res)
	}
	pool.Close()
	accepts, reads, lines, _ := s.snapshot()
	want := []string{
		"EHLO hub1.contoso.test",
		"MAIL FROM:<bob@fabrikam.test> BODY=8BITMIME", "RCPT TO:<bad@fabrikam.test>", "RSET",
		"MAIL FROM:<bob@fabrikam.test> BODY=8BITMIME", "RCPT TO:<carol@fabrikam.test>", "RCPT TO:<bad2@fabrikam.test>", "RCPT TO:<dave@fabrikam.test>", "DATA",
		"QUIT",
	}
	if accepts != 1 || strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("%d connections, commands:\n%q\nwant one connection and\n%q", accepts, lines, want)
	}
	for _, r := range reads {
		if strings.Count(r, "\r\n") != 1 {
			t.Errorf("a read of more or less than one command line: %q", r)
		}
	}
}

// STARTTLS runs on the connection of the first EHLO: one TCP connection,
// EHLO again over TLS, then the transaction; opportunistic (unverified)
// and required (verified against the test CA) alike.
func TestSMTPStartTLSOneConnection(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	for _, mode := range []string{"", "required"} {
		s := startRawServer(t, func(s *rawServer) { s.tls = serverTLS })
		a := &SMTP{Hosts: []string{s.addr}, Helo: "hub1.contoso.test", Timeout: 5 * time.Second, TLS: mode}
		if mode == "required" {
			a.TLSConfig = clientTLS
		}
		if r := a.Deliver(context.Background(), message("x\r\n", smtpTo("carol@fabrikam.test")))[0]; r.Class != Relayed {
			t.Fatalf("tls %q: %+v", mode, r)
		}
		accepts, _, lines, messages := s.snapshot()
		s.mu.Lock()
		tlsEHLO := s.tlsEHLO
		s.mu.Unlock()
		if accepts != 1 || tlsEHLO != 1 || len(messages) != 1 {
			t.Errorf("tls %q: %d connections, %d EHLOs over TLS, %d messages; want 1, 1, 1", mode, accepts, tlsEHLO, len(messages))
		}
		if len(lines) < 3 || lines[0] != "EHLO hub1.contoso.test" || lines[1] != "STARTTLS" || lines[2] != "EHLO hub1.contoso.test" {
			t.Errorf("tls %q: commands %q", mode, lines)
		}
	}
}

// The content goes dot-stuffed, a bare LF as CRLF (RFC 5321 section
// 2.3.8: no "LF . LF" can reach a server that would end the data there),
// and with a CRLF added before the final "." when it does not end with
// one.
func TestSMTPDotStuffingAndEnd(t *testing.T) {
	s := startRawServer(t, nil)
	a := &SMTP{Hosts: []string{s.addr}, Timeout: 5 * time.Second}
	body := "Subject: dots\r\n\r\n.one\r\n..two\r\n.\r\nbare\nlf\n.after\r\nno end"
	if r := a.Deliver(context.Background(), message(body, smtpTo("carol@fabrikam.test")))[0]; r.Class != Relayed {
		t.Fatalf("%+v", r)
	}
	_, _, _, messages := s.snapshot()
	want := "Subject: dots\r\n\r\n..one\r\n...two\r\n..\r\nbare\r\nlf\r\n..after\r\nno end\r\n.\r\n"
	if len(messages) != 1 || messages[0] != want {
		t.Errorf("on the wire:\n%q\nwant\n%q", messages, want)
	}
}

func index(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// A next hop that greets with this server's own name is this server: the
// mail waits with 4.4.6 instead of going round until its hop count runs
// out, and the hosts after it are not tried (RFC 5321 section 5.1: MX
// hosts from the local host's preference on are discarded). The same
// host under another name takes the mail.
func TestSMTPLoopsBackToItself(t *testing.T) {
	self := startRawServer(t, func(s *rawServer) { s.name = "hub1.contoso.test" })
	next := startRawServer(t, nil)
	a := &SMTP{Hosts: []string{self.addr, next.addr}, Helo: "HUB1.contoso.test", Timeout: 5 * time.Second}
	r := a.Deliver(context.Background(), message("Subject: x\r\n\r\nhi\r\n", smtpTo("carol@fabrikam.test")))[0]
	if r.Class != Retry || r.Status != "4.4.6" || !strings.Contains(r.Text, "loops back to this server") || r.RemoteHost != self.addr {
		t.Errorf("delivery to this server itself: %+v, want a retry with 4.4.6", r)
	}
	if accepts, _, lines, _ := next.snapshot(); accepts != 0 {
		t.Errorf("the host after this server was tried: %q", lines)
	}
	if _, _, lines, _ := self.snapshot(); index(lines, "MAIL FROM:<bob@fabrikam.test> BODY=8BITMIME") >= 0 {
		t.Errorf("MAIL was sent to this server itself: %q", lines)
	}

	a.Helo = "hub2.contoso.test"
	if r := a.Deliver(context.Background(), message("x\r\n", smtpTo("carol@fabrikam.test")))[0]; r.Class != Relayed {
		t.Errorf("delivery from another server: %+v", r)
	}
}

// A server that says more than its reply to the final "." leaves a reply
// that would answer the next message's MAIL: its session is not kept, and
// the next message goes on a new one, its replies in step.
func TestSMTPExtraReplyNotPooled(t *testing.T) {
	s := startRawServer(t, func(s *rawServer) { s.extra = "250 2.0.0 and one more thing\r\n" })
	pool := &Pool{IdleTime: 5 * time.Second}
	defer pool.Close()
	a := &SMTP{Hosts: []string{s.addr}, Helo: "hub1.contoso.test", Timeout: 5 * time.Second, Pool: pool}
	for i := range 2 {
		res := a.Deliver(context.Background(), message("x\r\n", smtpTo("carol@fabrikam.test"), smtpTo("bad@fabrikam.test")))
		if res[0].Class != Relayed || res[1].Class != Failed || res[1].Status != "5.1.1" {
			t.Errorf("message %d: %+v", i, res)
		}
	}
	if accepts, _, _, _ := s.snapshot(); accepts != 2 {
		t.Errorf("%d connections, want 2: the session with the extra reply was reused", accepts)
	}
}
