package test

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/test/harness"
)

// line is a raw SMTP client for the limit tests: it writes exactly what it
// is given and reads one reply at a time.
type line struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialFrom(t *testing.T, from, addr string) *line {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &line{t: t, c: c, r: bufio.NewReader(c)}
}

// expect reads a reply and checks that its last line starts with prefix.
func (l *line) expect(prefix string) {
	l.t.Helper()
	l.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		s, err := l.r.ReadString('\n')
		if err != nil {
			l.t.Fatalf("reading a reply: %v (want %q)", err, prefix)
		}
		if len(s) >= 4 && s[3] == '-' {
			continue
		}
		if !strings.HasPrefix(s, prefix) {
			l.t.Fatalf("reply %q, want %q...", s, prefix)
		}
		return
	}
}

func (l *line) cmd(text, prefix string) {
	l.t.Helper()
	l.send(text + "\r\n")
	l.expect(prefix)
}

func (l *line) send(text string) {
	l.t.Helper()
	l.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := l.c.Write([]byte(text)); err != nil {
		l.t.Fatal(err)
	}
}

// TestReceiveLimits runs the receive connector limits of the organization
// file through the real binary: a connector whose min_free_space the
// queue's real file system cannot have refuses MAIL with 452 4.3.1;
// max_connections_per_ip refuses the extra connection; bare LF from
// a client in bare_lf_ranges is accepted and delivered, from others
// refused.
func TestReceiveLimits(t *testing.T) {
	dir := t.TempDir()
	full, open := harness.Port(t), harness.Port(t)
	file := filepath.Join(dir, "org.toml")
	harness.Write(t, file, fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
  [[server.receive]]
  name = "Full"
  listen = %q
  min_free_space = 4000000000000000000
  [[server.receive]]
  name = "Default"
  listen = %q
  max_connections_per_ip = 2
  bare_lf_ranges = ["127.0.0.2"]
[[accepted_domain]]
domain = "contoso.test"
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test"]
`, full, open))
	h := harness.Start(t, file, "hub1", full, open)

	c := dialFrom(t, "127.0.0.1", full)
	c.expect("220 ")
	c.cmd("EHLO client.fabrikam.test", "250 ")
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "452 4.3.1 ")
	c.cmd("QUIT", "221 ")

	a := dialFrom(t, "127.0.0.1", open)
	a.expect("220 ")
	b := dialFrom(t, "127.0.0.1", open)
	b.expect("220 ")
	extra := dialFrom(t, "127.0.0.1", open)
	extra.expect("421 4.7.0 Too many connections from your address")

	a.cmd("EHLO client.fabrikam.test", "250 ")
	a.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	a.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	a.cmd("DATA", "354 ")
	a.send("Subject: unix\n\nbare LF\r\n.\r\n")
	a.expect("550 5.5.2 ")
	a.cmd("QUIT", "221 ")

	legacy := dialFrom(t, "127.0.0.2", open)
	legacy.expect("220 ")
	legacy.cmd("EHLO legacy.contoso.test", "250 ")
	legacy.cmd("MAIL FROM:<app@contoso.test>", "250 ")
	legacy.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	legacy.cmd("DATA", "354 ")
	legacy.send("Subject: legacy\n\nbare LF\nlines\r\n.\r\n")
	legacy.expect("250 ")
	legacy.cmd("QUIT", "221 ")

	data := filepath.Join(dir, "data", "hub1")
	harness.WaitFor(t, 10*time.Second, "delivery to Alice", func() bool {
		return len(harness.Maildir(t, data, "alice@contoso.test")) == 1
	})
	msg := harness.Maildir(t, data, "alice@contoso.test")[0]
	if !strings.Contains(msg, "Subject: legacy") || !strings.Contains(msg, "bare LF") || strings.Contains(msg, "Subject: unix") {
		t.Errorf("delivered:\n%s", msg)
	}
	if log := h.Log(); !strings.Contains(log, "queue file system nearly full") || !strings.Contains(log, "max_connections_per_ip reached") {
		t.Errorf("log:\n%s", log)
	}
}
