// Integration tests: the real waypost binary, started by the harness on
// random loopback ports, spoken to with a real SMTP client.
package test

import (
	"fmt"
	"io"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/hub"
	"github.com/waypost/waypost/test/harness"
)

// sink is the smart host of the Internet connector: a real SMTP server.
type sink struct {
	mu    sync.Mutex
	rcpts []string
	data  []string
}

func (s *sink) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &sinkSession{s: s}, nil }

type sinkSession struct {
	s  *sink
	to []string
}

func (ss *sinkSession) Reset()                                 { ss.to = nil }
func (ss *sinkSession) Logout() error                          { return nil }
func (ss *sinkSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.rcpts = append(ss.s.rcpts, ss.to...)
	ss.s.data = append(ss.s.data, string(b))
	return nil
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.data)
}

type org struct {
	dir, file, data      string
	smtpAddr, submission string
	sink                 *sink
	sinkAddr             string
}

func newOrg(t *testing.T) *org {
	t.Helper()
	o := &org{dir: t.TempDir(), smtpAddr: harness.Port(t), submission: harness.Port(t), sink: &sink{}}
	srv := gosmtp.NewServer(o.sink)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	o.sinkAddr = ln.Addr().String()
	hash, err := hub.HashPassword("alice's password")
	if err != nil {
		t.Fatal(err)
	}
	o.file = filepath.Join(o.dir, "org.toml")
	o.data = filepath.Join(o.dir, "data", "hub1")
	harness.Write(t, o.file, fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
retry = { glitch_count = 4, glitch_interval = "1s" }
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
  [[server.receive]]
  name = "Default"
  listen = %q
  kind = "smtp"
  [[server.receive]]
  name = "Clients"
  listen = %q
  kind = "submission"
[[accepted_domain]]
domain = "contoso.test"
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", smart_hosts = [%q] }
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test"]
password_hash = %q
`, o.smtpAddr, o.submission, o.sinkAddr, hash))
	return o
}

func TestServeDeliversLocallyAndOutward(t *testing.T) {
	o := newOrg(t)
	h := harness.Start(t, o.file, "hub1", o.smtpAddr, o.submission)

	// Port 25 style: mail for a local mailbox is accepted and delivered.
	msg := "From: bob@fabrikam.test\r\nTo: alice@contoso.test\r\nSubject: hello\r\nMessage-ID: <hello-1@fabrikam.test>\r\n\r\nHi Alice.\r\n"
	if err := smtp.SendMail(o.smtpAddr, nil, "bob@fabrikam.test", []string{"alice@contoso.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	folder := delivery.Folder("alice@contoso.test")
	harness.WaitFor(t, 10*time.Second, "delivery to alice's Maildir", func() bool { return len(harness.Maildir(t, o.data, folder)) == 1 })
	got := harness.Maildir(t, o.data, folder)[0]
	if !strings.HasPrefix(got, "Return-Path: <bob@fabrikam.test>\r\n") || !strings.Contains(got, "Received: ") || !strings.HasSuffix(got, "Hi Alice.\r\n") {
		t.Errorf("stored message:\n%s", got)
	}

	// Relaying without AUTH is refused at RCPT.
	err := smtp.SendMail(o.smtpAddr, nil, "bob@fabrikam.test", []string{"carol@example.org"}, []byte(msg))
	if err == nil || !strings.Contains(err.Error(), "5.7.1") {
		t.Errorf("relay without AUTH: %v, want 554 5.7.1", err)
	}
	// An unknown local recipient is refused at RCPT.
	err = smtp.SendMail(o.smtpAddr, nil, "bob@fabrikam.test", []string{"nobody@contoso.test"}, []byte(msg))
	if err == nil || !strings.Contains(err.Error(), "5.1.1") {
		t.Errorf("unknown recipient: %v, want 550 5.1.1", err)
	}

	// Submission with AUTH relays outward through the Internet connector.
	host, _, _ := net.SplitHostPort(o.submission)
	auth := smtp.PlainAuth("", "alice@contoso.test", "alice's password", host)
	out := "From: alice@contoso.test\r\nTo: carol@example.org\r\nSubject: out\r\n\r\nHi Carol.\r\n"
	if err := smtp.SendMail(o.submission, auth, "alice@contoso.test", []string{"carol@example.org"}, []byte(out)); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 10*time.Second, "delivery to the smart host", func() bool { return o.sink.count() == 1 })
	if o.sink.rcpts[0] != "carol@example.org" || !strings.HasSuffix(o.sink.data[0], "Hi Carol.\r\n") {
		t.Errorf("smart host got %v %q", o.sink.rcpts, o.sink.data[0])
	}
	if err := h.Stop(); err != nil {
		t.Errorf("SIGTERM: %v\n%s", err, h.Log())
	}
	// waypost track finds the message by its Message-ID.
	tracked, err := exec.Command(harness.Binary(t), "track", "--config", o.file, "--message-id", "hello-1@fabrikam").CombinedOutput()
	if err != nil || !strings.Contains(string(tracked), `"event":"RECEIVE"`) || !strings.Contains(string(tracked), `"recipient":"SMTP:alice@contoso.test"`) {
		t.Errorf("waypost track: %v\n%s", err, tracked)
	}
}

func TestQueuedMailSurvivesRestart(t *testing.T) {
	o := newOrg(t)
	// Point the connector at a closed port: the message waits in the queue.
	dead := harness.Port(t)
	harness.Write(t, o.file, strings.Replace(readFile(t, o.file), o.sinkAddr, dead, 1))
	h := harness.Start(t, o.file, "hub1", o.smtpAddr, o.submission)
	host, _, _ := net.SplitHostPort(o.submission)
	auth := smtp.PlainAuth("", "alice@contoso.test", "alice's password", host)
	if err := smtp.SendMail(o.submission, auth, "alice@contoso.test", []string{"carol@example.org"}, []byte("Subject: later\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	h.Kill() // a crash, right after the 250
	harness.Write(t, o.file, strings.Replace(readFile(t, o.file), dead, o.sinkAddr, 1))
	harness.Start(t, o.file, "hub1", o.smtpAddr)
	harness.WaitFor(t, 20*time.Second, "the queued message after restart", func() bool { return o.sink.count() == 1 })
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
