package delivery

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func passwordFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "relay.password")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// AUTH PLAIN over loopback without TLS: the login is accepted (the
// file's newline is not part of the password), and a kept connection
// stays logged in for the next message.
func TestSMTPAuthPlainOverLoopback(t *testing.T) {
	ts := startTestServer(t, "s3cret pass", false)
	pool := &Pool{IdleTime: 5 * time.Second}
	defer pool.Close()
	a := &SMTP{Hosts: []string{ts.addr}, TLS: "none", Timeout: 5 * time.Second, Pool: pool,
		AuthUsername: "relay", AuthPasswordFile: passwordFile(t, "s3cret pass\n")}
	for i := range 2 {
		if res := a.Deliver(context.Background(), message("x\r\n", smtpTo("carol@fabrikam.test"))); res[0].Class != Relayed {
			t.Fatalf("message %d: %+v", i, res[0])
		}
	}
	if accepted, logins, got := ts.counts(); accepted != 1 || logins != 1 || got != 2 {
		t.Errorf("%d connections, %d logins, %d messages; want 1, 1, 2", accepted, logins, got)
	}
}

// A refused login (535) is a retry 4.7.0 quoting the reply: the mail
// waits for an administrator to fix the password; nothing is sent.
func TestSMTPAuthRefusedIsRetry(t *testing.T) {
	ts := startTestServer(t, "right", false)
	a := &SMTP{Hosts: []string{ts.addr}, TLS: "none", Timeout: 5 * time.Second,
		AuthUsername: "relay", AuthPasswordFile: passwordFile(t, "wrong\n")}
	res := a.Deliver(context.Background(), message("x\r\n", smtpTo("carol@fabrikam.test"), smtpTo("dave@fabrikam.test")))
	for _, r := range res {
		if r.Class != Retry || r.Status != "4.7.0" || !strings.HasPrefix(r.RemoteText, "535 5.7.8 ") || !strings.Contains(r.Text, `login as "relay"`) || r.RemoteHost != ts.addr {
			t.Errorf("%+v", r)
		}
	}
	if _, _, got := ts.counts(); got != 0 {
		t.Error("a message was sent without a login")
	}
	// A missing password file is a retry too, naming the file.
	a.AuthPasswordFile = filepath.Join(t.TempDir(), "nope")
	if r := a.Deliver(context.Background(), message("x\r\n", smtpTo("carol@fabrikam.test")))[0]; r.Class != Retry || r.Status != "4.7.0" || !strings.Contains(r.Text, "nope") {
		t.Errorf("missing password file: %+v", r)
	}
	// A server that offers no AUTH: retry, saying so.
	plain := startTestServer(t, "", false)
	a.Hosts, a.AuthPasswordFile = []string{plain.addr}, passwordFile(t, "right")
	if r := a.Deliver(context.Background(), message("x\r\n", smtpTo("carol@fabrikam.test")))[0]; r.Class != Retry || !strings.Contains(r.Text, "does not offer AUTH") {
		t.Errorf("no AUTH offered: %+v", r)
	}
}

// The password goes in clear only to a loopback peer; over TLS always.
func TestClearAuthRefused(t *testing.T) {
	remote := &net.TCPAddr{IP: net.ParseIP("192.0.2.25"), Port: 25}
	err := clearAuthRefused("smtp.example.test:587", false, remote)
	if err == nil || err.Error() != "refusing to send the password in clear to smtp.example.test:587: enable tls" {
		t.Errorf("clear to a remote host: %v", err)
	}
	for _, c := range []struct {
		tls  bool
		peer net.Addr
	}{
		{true, remote},
		{false, &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 25}},
		{false, &net.TCPAddr{IP: net.IPv6loopback, Port: 25}},
	} {
		if err := clearAuthRefused("smtp.example.test:587", c.tls, c.peer); err != nil {
			t.Errorf("tls=%v peer=%v: %v", c.tls, c.peer, err)
		}
	}
}
