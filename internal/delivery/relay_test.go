package delivery_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/smtpd"
)

const relayOrg = `
[organization]
default_domain = "contoso.test"
hub_secret_file = "hub.secret"
[[site]]
name = "HQ"
[[server]]
name = "hub-a"
site = "HQ"
relay = "127.0.0.1:1"
[[server]]
name = "hub-b"
site = "HQ"
relay = "127.0.0.1:2"
[[accepted_domain]]
domain = "contoso.test"
[[recipient]]
kind = "mailbox"
name = "Bob"
server = "hub-b"
addresses = ["SMTP:bob@contoso.test"]
`

type oneQueue struct {
	mu   sync.Mutex
	env  smtpd.Envelope
	body string
	n    int
}

func (q *oneQueue) Add(env smtpd.Envelope, body io.Reader) (string, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return "", err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.env, q.body = env, string(b)
	q.n++
	return "Q1", nil
}

// countAccepts counts the connections a listener accepts.
type countAccepts struct {
	net.Listener
	n atomic.Int32
}

func (c *countAccepts) Accept() (net.Conn, error) {
	conn, err := c.Listener.Accept()
	if err == nil {
		c.n.Add(1)
	}
	return conn, err
}

// startRelay starts hub-b's relay listener with secret on loopback.
func startRelay(t *testing.T, secret []byte) (*countAccepts, *oneQueue) {
	t.Helper()
	org, err := config.Parse([]byte(relayOrg), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := directory.NewMemory(org.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	eng := routing.New(org, dir)
	q := &oneQueue{}
	l, err := smtpd.NewRelay(org, "hub-b", secret, func() *routing.Engine { return eng }, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ca := &countAccepts{Listener: ln}
	go l.Serve(ca)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		l.Shutdown(ctx)
	})
	return ca, q
}

// The hub relay agent proves the secret to a real relay listener and
// keeps the envelope: DSN parameters (an x400 ORCPT too) and the arrival
// time.
func TestHubRelay(t *testing.T) {
	secret := []byte("the secret")
	ln, q := startRelay(t, secret)
	arrival := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	msg := &delivery.Message{ID: "M1", From: "alice@contoso.test", Arrival: arrival, EnvID: "env-1", Ret: "HDRS",
		Recipients: []delivery.Recipient{
			{Type: "SMTP", Address: "bob@contoso.test", Notify: "SUCCESS,DELAY", ORCPT: "rfc822;bob@contoso.test"},
			{Type: "FAX", Address: "+1 555 0100", Notify: "NEVER", ORCPT: "x400;c=US;a= ;p=Contoso;s=Fax;"},
		},
		Open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("Subject: x\r\n\r\nbody\r\n")), nil
		}}

	// A hub with another secret: the listener's proof fails the agent's
	// check, so the agent sends nothing (the peer may be a fake hub) and
	// the mail waits.
	bad := &delivery.SMTP{Hosts: []string{ln.Addr().String()}, TLS: "none", Timeout: 5 * time.Second, DefaultDomain: "contoso.test",
		Hub: &delivery.HubAuth{Server: "hub-a", Secret: []byte("wrong"), ArrivalHeader: smtpd.ArrivalHeader}}
	for _, r := range bad.Deliver(context.Background(), msg) {
		if r.Class != delivery.Retry || r.Status != "4.7.0" || !strings.Contains(r.Text, "wrong server proof") {
			t.Errorf("wrong proof: %+v, want a retry with 4.7.0 naming the server proof", r)
		}
	}
	q.mu.Lock()
	if q.n != 0 {
		t.Errorf("%d messages reached a hub whose proof failed", q.n)
	}
	q.mu.Unlock()
	// A relay address that leads to another hub than the one meant.
	other := &delivery.SMTP{Hosts: []string{ln.Addr().String()}, Timeout: 5 * time.Second, DefaultDomain: "contoso.test",
		Hub: &delivery.HubAuth{Server: "hub-a", Peer: "hub-c", Secret: secret, ArrivalHeader: smtpd.ArrivalHeader}}
	for _, r := range other.Deliver(context.Background(), msg) {
		if r.Class != delivery.Retry || !strings.Contains(r.Text, `the hub answering is "hub-b", not "hub-c"`) {
			t.Errorf("another hub: %+v", r)
		}
	}

	a := &delivery.SMTP{Hosts: []string{ln.Addr().String()}, TLS: "none", Timeout: 5 * time.Second, DefaultDomain: "contoso.test",
		Hub: &delivery.HubAuth{Server: "hub-a", Peer: "hub-b", Secret: secret, ArrivalHeader: smtpd.ArrivalHeader, ORCPTHeader: smtpd.ORCPTHeader}}
	res := a.Deliver(context.Background(), msg)
	for _, r := range res {
		if r.Class != delivery.Relayed || !r.NotifyPassed || r.TLS != "hub" { // the next hub reports itself
			t.Fatalf("results %+v", res)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	env := q.env
	if !env.Arrival.Equal(arrival) || env.EnvID != "env-1" || env.Ret != "HDRS" || env.From != "alice@contoso.test" || env.Auth != "hub:hub-a" {
		t.Errorf("envelope %+v", env)
	}
	if len(env.Recipients) != 2 || env.Recipients[0].Notify != "SUCCESS,DELAY" || env.Recipients[0].ORCPT != "rfc822;bob@contoso.test" ||
		env.Recipients[1].Notify != "NEVER" || env.Recipients[1].Decision.Type != "FAX" || env.Recipients[1].ORCPT != "x400;c=US;a= ;p=Contoso;s=Fax;" {
		t.Errorf("recipients %+v", env.Recipients)
	}
	if strings.Contains(q.body, smtpd.ArrivalHeader) || strings.Contains(q.body, smtpd.ORCPTHeader) || !strings.HasSuffix(q.body, "Subject: x\r\n\r\nbody\r\n") {
		t.Errorf("body %q", q.body)
	}
	// Over TLS and proven (RFC 3848), whatever the agent's TLS field says.
	if !strings.Contains(q.body, "with ESMTPSA") {
		t.Errorf("not relayed over TLS: %q", q.body)
	}
}

// The hub relay keeps its proven connection for the next messages.
func TestHubRelayReusesConnection(t *testing.T) {
	secret := []byte("the secret")
	ln, q := startRelay(t, secret)
	pool := &delivery.Pool{IdleTime: 5 * time.Second}
	defer pool.Close()
	a := &delivery.SMTP{Hosts: []string{ln.Addr().String()}, TLS: "none", Timeout: 5 * time.Second, DefaultDomain: "contoso.test", Pool: pool,
		Hub: &delivery.HubAuth{Server: "hub-a", Secret: secret, ArrivalHeader: smtpd.ArrivalHeader, ORCPTHeader: smtpd.ORCPTHeader}}
	for i := range 3 {
		msg := &delivery.Message{ID: "M", From: "alice@contoso.test", Arrival: time.Now(),
			Recipients: []delivery.Recipient{{Type: "SMTP", Address: "bob@contoso.test"}},
			Open: func() (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader("Subject: x\r\n\r\nbody\r\n")), nil
			}}
		if r := a.Deliver(context.Background(), msg)[0]; r.Class != delivery.Relayed {
			t.Fatalf("message %d: %+v", i, r)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if got := ln.n.Load(); got != 1 || q.n != 3 {
		t.Errorf("%d connections for %d messages, want 1 for 3", got, q.n)
	}
}
