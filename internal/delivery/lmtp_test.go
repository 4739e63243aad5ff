package delivery

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/testnet"
)

// lmtpServer is a scripted LMTP server (RFC 2033) on a loopback port or a
// unix socket: it answers LHLO (and refuses EHLO, as an LMTP server must),
// refuses RCPT of a local part starting with "bad" (550 5.1.1), and after
// the content gives each accepted recipient its own reply: "full..." 552
// 5.2.2, "busy..." 451 4.2.0, the others 250. The mail store for real is
// Dovecot: test/dovecot_test.go.
type lmtpServer struct {
	addr string

	mu       sync.Mutex
	accepts  int
	lines    []string
	messages []string
}

func startLMTPServer(t *testing.T, network string) *lmtpServer {
	t.Helper()
	s := &lmtpServer{}
	var ln net.Listener
	var err error
	if network == "unix" {
		path := filepath.Join(t.TempDir(), "lmtp")
		ln, err = net.Listen("unix", path)
		s.addr = "unix:" + path
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			s.addr = ln.Addr().String()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.accepts++
			s.mu.Unlock()
			wg.Go(func() { s.serve(c) })
		}
	})
	return s
}

func (s *lmtpServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	say := func(l string) { io.WriteString(c, l+"\r\n") }
	say("220 lmtp.test LMTP ready")
	var rcpts []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.lines = append(s.lines, line)
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "LHLO":
			say("250-lmtp.test")
			say("250-PIPELINING")
			say("250-ENHANCEDSTATUSCODES")
			say("250 8BITMIME")
		case "MAIL":
			rcpts = nil
			say("250 2.1.0 OK")
		case "RCPT":
			to := strings.TrimSuffix(strings.TrimPrefix(arg, "TO:<"), ">")
			if strings.HasPrefix(to, "bad") {
				say("550 5.1.1 <" + to + "> User doesn't exist")
				continue
			}
			rcpts = append(rcpts, to)
			say("250 2.1.5 OK")
		case "DATA":
			if len(rcpts) == 0 {
				say("503 5.5.1 No valid recipients")
				continue
			}
			say("354 OK")
			var msg strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				msg.WriteString(l)
			}
			s.mu.Lock()
			s.messages = append(s.messages, msg.String())
			s.mu.Unlock()
			for _, to := range rcpts {
				switch {
				case strings.HasPrefix(to, "full"):
					say("552 5.2.2 <" + to + "> Quota exceeded")
				case strings.HasPrefix(to, "busy"):
					say("451 4.2.0 <" + to + "> Mailbox is locked")
				default:
					say("250 2.0.0 <" + to + "> Saved")
				}
			}
			rcpts = nil
		case "RSET":
			rcpts = nil
			say("250 2.0.0 OK")
		case "QUIT":
			say("221 2.0.0 Bye")
			return
		default:
			say("500 5.5.2 Unknown command")
		}
	}
}

func lmtpMessage(rcpts ...Recipient) *Message {
	return &Message{ID: "m1", From: "sender@fabrikam.test", Recipients: rcpts,
		Open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("Subject: hi\r\n\r\n.dot line\r\nbody\r\n")), nil
		}}
}

func mailboxRcpt(addressed, primary string) Recipient {
	return Recipient{Type: "SMTP", Address: addressed, Mailbox: primary, Folder: Folder(primary)}
}

// Each recipient gets the reply the LMTP server gave it after the content:
// 2xx delivered, 4xx retry, 5xx failed, and a refused RCPT fails alone.
func TestLMTPPerRecipientReplies(t *testing.T) {
	s := startLMTPServer(t, "tcp")
	a := &LMTP{Address: s.addr, Timeout: 5 * time.Second}
	res := a.Deliver(context.Background(), lmtpMessage(
		mailboxRcpt("alice@contoso.test", "Alice@contoso.test"),
		mailboxRcpt("full@contoso.test", "full@contoso.test"),
		mailboxRcpt("busy@contoso.test", "busy@contoso.test"),
		mailboxRcpt("bad@contoso.test", "bad@contoso.test"),
		mailboxRcpt("bob@contoso.test", "bob@contoso.test"),
	))
	want := []struct {
		class  Class
		status string
	}{{Delivered, "2.0.0"}, {Failed, "5.2.2"}, {Retry, "4.2.0"}, {Failed, "5.1.1"}, {Delivered, "2.0.0"}}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(res), len(want), res)
	}
	for i, w := range want {
		if res[i].Class != w.class || res[i].Status != w.status {
			t.Errorf("recipient %d: %s %s (%s %s), want %s %s", i, res[i].Class, res[i].Status, res[i].Text, res[i].RemoteText, w.class, w.status)
		}
	}
	if !strings.Contains(res[1].RemoteText, "Quota exceeded") {
		t.Errorf("the report does not quote the server: %q", res[1].RemoteText)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.messages) != 1 {
		t.Fatalf("%d transactions, want one for all recipients", len(s.messages))
	}
	if !strings.Contains(s.messages[0], "\r\n..dot line\r\n") {
		t.Errorf("content not dot-stuffed: %q", s.messages[0])
	}
	if s.lines[0] != "LHLO localhost" {
		t.Errorf("first command %q, want LHLO", s.lines[0])
	}
}

// RCPT names the mailbox's primary SMTP address, not the proxy address
// the sender used.
func TestLMTPRecipientIsPrimaryAddress(t *testing.T) {
	s := startLMTPServer(t, "tcp")
	a := &LMTP{Address: s.addr, Timeout: 5 * time.Second}
	res := a.Deliver(context.Background(), lmtpMessage(
		mailboxRcpt("a.smith@contoso.test", "alice@contoso.test"),
		Recipient{Type: "X400", Address: "c=US;a= ;p=Contoso;s=Smith;", Folder: Folder("alice.x@contoso.test")},
	))
	for i, r := range res {
		if r.Class != Delivered {
			t.Fatalf("recipient %d: %+v", i, r)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rcpts []string
	for _, l := range s.lines {
		if strings.HasPrefix(l, "RCPT") {
			rcpts = append(rcpts, l)
		}
	}
	if strings.Join(rcpts, "|") != "RCPT TO:<alice@contoso.test>|RCPT TO:<alice.x@contoso.test>" {
		t.Errorf("RCPTs %q", rcpts)
	}
}

// Over a unix socket, and with a pool two messages share one connection.
func TestLMTPUnixSocketAndReuse(t *testing.T) {
	s := startLMTPServer(t, "unix")
	pool := &Pool{IdleTime: 10 * time.Second}
	defer pool.Close()
	a := &LMTP{Address: s.addr, Timeout: 5 * time.Second, Pool: pool}
	for range 2 {
		res := a.Deliver(context.Background(), lmtpMessage(mailboxRcpt("alice@contoso.test", "alice@contoso.test")))
		if res[0].Class != Delivered {
			t.Fatalf("%+v", res[0])
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.accepts != 1 || len(s.messages) != 2 {
		t.Errorf("%d connections for %d messages, want 1 for 2", s.accepts, len(s.messages))
	}
}

// An LMTP server that is down leaves every recipient to retry, with the
// reason naming the address.
func TestLMTPServerDown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, address := range []string{testnet.RefusingAddr(t), "unix:" + path} {
		a := &LMTP{Address: address, Timeout: 2 * time.Second}
		res := a.Deliver(context.Background(), lmtpMessage(mailboxRcpt("alice@contoso.test", "alice@contoso.test"), mailboxRcpt("bob@contoso.test", "bob@contoso.test")))
		for _, r := range res {
			if r.Class != Retry || r.Status != "4.4.1" || !strings.Contains(r.Text, address) {
				t.Errorf("%s: %+v, want a retry 4.4.1 naming the address", address, r)
			}
		}
	}
}
