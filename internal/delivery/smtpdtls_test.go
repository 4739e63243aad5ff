package delivery

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/smtpd"
	"github.com/waypost/waypost/internal/testcert"
)

const tlsOrg = `
[organization]
default_domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub-b"
site = "HQ"
[[accepted_domain]]
domain = "contoso.test"
[[recipient]]
kind = "mailbox"
name = "Bob"
server = "hub-b"
addresses = ["SMTP:bob@contoso.test"]
[[recipient]]
kind = "mailbox"
name = "Carol"
server = "hub-b"
addresses = ["SMTP:carol@contoso.test"]
`

type envelopes struct {
	mu   sync.Mutex
	got  []smtpd.Envelope
	body []string
}

func (q *envelopes) Add(env smtpd.Envelope, body io.Reader) (string, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return "", err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.got, q.body = append(q.got, env), append(q.body, string(b))
	return "Q1", nil
}

// Against Waypost's own receive connector with a certificate, whose guard
// refuses input sent too early (after STARTTLS, before 354): STARTTLS on
// the first connection, then a pipelined envelope with a refused
// recipient in the middle, and the message arrives once.
func TestSMTPToSmtpdWithStartTLS(t *testing.T) {
	cert := testcert.New(t, "127.0.0.1")
	certFile, keyFile := cert.Files(t)
	clientTLS := &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1"}

	org, err := config.Parse([]byte(tlsOrg), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	directory, err := directory.NewMemory(org.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	eng := routing.New(org, directory)
	rc := &config.ReceiveConnector{
		Name: "Default", Kind: config.KindSMTP, TLSCert: certFile, TLSKey: keyFile,
		RemoteRanges:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		MaxMessageSize: config.DefaultMaxMessageSize, MaxRecipients: config.DefaultMaxRecipients,
		MaxLineLength: config.DefaultMaxLineLength, CommandTimeout: config.DefaultCommandTimeout,
		DataTimeout: config.DefaultDataTimeout, MaxErrors: config.DefaultMaxErrors, MaxHopCount: config.DefaultMaxHopCount,
		MaxHeaderSize: config.DefaultMaxHeaderSize, MaxConnections: config.DefaultMaxConnections,
		MaxConnectionsPerIP: config.DefaultMaxConnectionsPerIP,
	}
	q := &envelopes{}
	l, err := smtpd.New(org, "hub-b", rc, func() *routing.Engine { return eng }, q, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingListener{Listener: ln, ts: &testServer{}}
	go l.Serve(counted)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		l.Shutdown(ctx)
	})

	a := &SMTP{Hosts: []string{ln.Addr().String()}, Helo: "hub-a.contoso.test", TLS: "required", TLSConfig: clientTLS, Timeout: 5 * time.Second}
	res := a.Deliver(context.Background(), message("Subject: x\r\n\r\nhi\r\n",
		smtpTo("bob@contoso.test"), smtpTo("nobody@contoso.test"), smtpTo("carol@contoso.test")))
	if res[0].Class != Relayed || res[1].Class != Failed || res[2].Class != Relayed {
		t.Fatalf("%+v", res)
	}
	accepted, _, _ := counted.ts.counts()
	q.mu.Lock()
	defer q.mu.Unlock()
	if accepted != 1 || len(q.got) != 1 || len(q.got[0].Recipients) != 2 || !strings.HasSuffix(q.body[0], "Subject: x\r\n\r\nhi\r\n") {
		t.Errorf("%d connections, %d messages %+v", accepted, len(q.got), q.got)
	}
}
