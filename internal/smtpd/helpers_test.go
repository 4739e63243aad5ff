package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/dnstest"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/testcert"
)

// testOrg is a small organization: one hub, the authoritative domain
// contoso.test (and an internal relay one), Alice's mailbox with a FAX
// proxy, a group, an Internet connector and a FAX connector.
const testOrg = `
[organization]
name = "Contoso"
default_domain = "contoso.test"

[[site]]
name = "HQ"

[[server]]
name = "hub-hq"
site = "HQ"
fqdn = "hub-hq.contoso.test"
data_dir = "data/hub-hq"

  [[server.receive]]
  name = "Default"
  listen = "127.0.0.1:2525"
  kind = "smtp"

  [[server.receive]]
  name = "Clients"
  listen = "127.0.0.1:2587"
  kind = "submission"

[[accepted_domain]]
domain = "contoso.test"
type = "authoritative"

[[accepted_domain]]
domain = "branch.contoso.test"
type = "internal_relay"

[[accepted_domain]]
domain = "partner.test"
type = "external_relay"

[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;10"]
source_servers = ["hub-hq"]
delivery = { kind = "smtp", smart_hosts = ["127.0.0.1:2600"] }

[[send_connector]]
name = "Fax"
address_spaces = ["FAX:*;1"]
source_servers = ["hub-hq"]
delivery = { kind = "drop", directory = "fax-out" }

[[recipient]]
kind = "mailbox"
name = "Alice Example"
server = "hub-hq"
addresses = ["SMTP:alice@contoso.test", "smtp:a@contoso.test", "FAX:+1 555 0100"]

[[recipient]]
kind = "mailbox"
name = "Postmaster"
server = "hub-hq"
addresses = ["SMTP:postmaster@contoso.test"]

[[recipient]]
kind = "group"
name = "Sales"
addresses = ["SMTP:sales@contoso.test"]
members = ["alice@contoso.test", "bob@fabrikam.test"]
`

// memQueue keeps accepted messages in memory, to see what was accepted.
type memQueue struct {
	mu   sync.Mutex
	msgs []queued
	fail error
}

type queued struct {
	id   string
	env  Envelope
	body string
}

func (q *memQueue) Add(env Envelope, body io.Reader) (string, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return "", fmt.Errorf("memqueue: reading: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return "", q.fail
	}
	id := fmt.Sprintf("Q%04d", len(q.msgs)+1)
	q.msgs = append(q.msgs, queued{id: id, env: env, body: string(data)})
	return id, nil
}

func (q *memQueue) all() []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]queued(nil), q.msgs...)
}

func (q *memQueue) setFail(err error) {
	q.mu.Lock()
	q.fail = err
	q.mu.Unlock()
}

// passwords is a test Authenticator.
type passwords map[string]string

func (p passwords) Authenticate(user, pass string) (string, bool) {
	if want, ok := p[user]; ok && want == pass {
		return user, true
	}
	return "", false
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	t    *testing.T
	l    *Listener
	q    *memQueue
	addr string
	logs *syncBuffer
}

type option func(*Listener)

// remoteClient makes loopback clients stand for remote ones (no AUTH
// without TLS).
func remoteClient(l *Listener) { l.trustLoopback = false }

// start serves receive connector name of hub-hq on a loopback port; tweak
// changes a copy of the connector first.
func start(t *testing.T, name string, tweak func(*config.ReceiveConnector), opts ...option) *harness {
	t.Helper()
	return serve(t, func(org *config.Org, eng func() *routing.Engine, q Queue, log *slog.Logger) (*Listener, error) {
		var rc config.ReceiveConnector
		for _, r := range org.Server("hub-hq").Receive {
			if r.Name == name {
				rc = *r
			}
		}
		if rc.Name == "" {
			t.Fatalf("no receive connector %q", name)
		}
		if tweak != nil {
			tweak(&rc)
		}
		return New(org, "hub-hq", &rc, eng, q, passwords{"alice@contoso.test": "secret"}, log)
	}, opts...)
}

// serve builds a listener of hub-hq in the test organization with build
// and serves it on a loopback port until the test ends.
func serve(t *testing.T, build func(*config.Org, func() *routing.Engine, Queue, *slog.Logger) (*Listener, error), opts ...option) *harness {
	t.Helper()
	org, err := config.Parse([]byte(testOrg), "test.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := directory.NewMemory(org.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	eng := routing.New(org, dir)
	h := &harness{t: t, q: &memQueue{}, logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.l, err = build(org, func() *routing.Engine { return eng }, h.q, log)
	if err != nil {
		t.Fatal(err)
	}
	// The sender checks of kind smtp ask a private DNS server that knows
	// no name (senderauth_test.go gives them one that does).
	h.l.SetResolver(dnstest.Start(t).Resolver())
	for _, o := range opts {
		o(h.l)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- h.l.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := h.l.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("log:\n%s", h.logs.String())
		}
	})
	return h
}

// client is a raw SMTP client: it writes exactly the bytes it is given.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (h *harness) dial() *client {
	h.t.Helper()
	c := h.dialRaw()
	c.expect("220 ")
	return c
}

// dialRaw connects without reading the greeting.
func (h *harness) dialRaw() *client {
	h.t.Helper()
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return &client{t: h.t, conn: c, r: bufio.NewReader(c)}
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hello dials and greets with EHLO.
func (h *harness) hello() *client {
	c := h.dial()
	c.cmd("EHLO client.fabrikam.test", "250 ")
	return c
}

func (c *client) send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// reply reads one reply, all its lines joined by "\n".
func (c *client) reply() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var lines []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading a reply: %v (so far %q)", err, lines)
		}
		line = strings.TrimRight(line, "\r\n")
		lines = append(lines, line)
		if len(line) < 4 || line[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

// expect reads a reply and checks that its last line starts with prefix.
func (c *client) expect(prefix string) string {
	c.t.Helper()
	r := c.reply()
	last := r[strings.LastIndexByte(r, '\n')+1:]
	if !strings.HasPrefix(last, prefix) {
		c.t.Fatalf("reply %q, want %q...", r, prefix)
	}
	return r
}

// cmd sends a command line and checks the reply.
func (c *client) cmd(line, prefix string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(prefix)
}

// silent checks that nothing more arrives for a while.
func (c *client) silent() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	line, err := c.r.ReadString('\n')
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("unexpected input %q (err %v)", line, err)
	}
}

// closed checks that the server has closed the connection.
func (c *client) closed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := c.r.ReadString('\n')
	if err == nil || line != "" {
		c.t.Fatalf("connection still open: read %q, %v", line, err)
	}
}

// transaction sends MAIL and RCPT and DATA up to the 354.
func (c *client) transaction(from string, to ...string) {
	c.t.Helper()
	c.cmd("MAIL FROM:<"+from+">", "250 ")
	for _, r := range to {
		c.cmd("RCPT TO:<"+r+">", "250 ")
	}
	c.cmd("DATA", "354 ")
}

// selfSigned writes a certificate for hub-hq.contoso.test and its key.
func selfSigned(t *testing.T) (cert, key string) {
	return testcert.New(t, "hub-hq.contoso.test").Files(t)
}

// startTLS upgrades a raw client after a 220 to STARTTLS.
func (c *client) startTLS() {
	c.t.Helper()
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true, ServerName: "hub-hq.contoso.test"})
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
}

// dialFrom connects from a given loopback address (Linux answers for all of
// 127.0.0.0/8), to stand for a second client machine.
func (h *harness) dialFrom(ip string) *client {
	h.t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return &client{t: h.t, conn: c, r: bufio.NewReader(c)}
}

// helloFrom dials from ip and greets with EHLO.
func (h *harness) helloFrom(ip string) *client {
	h.t.Helper()
	c := h.dialFrom(ip)
	c.expect("220 ")
	c.cmd("EHLO client.fabrikam.test", "250 ")
	return c
}

// counts is a test double for the metrics the hub wires to Events: it
// counts what the listener reports.
type counts struct {
	mu           sync.Mutex
	sessions     int
	authFailures int
	rejects      []string // "421 4.7.0"
	accepted     []int64
}

func (c *counts) option(l *Listener) {
	l.SetEvents(Events{
		OnSession:     func() { c.mu.Lock(); c.sessions++; c.mu.Unlock() },
		OnAuthFailure: func() { c.mu.Lock(); c.authFailures++; c.mu.Unlock() },
		OnReject: func(code int, enhanced string) {
			c.mu.Lock()
			c.rejects = append(c.rejects, strings.TrimSpace(strconv.Itoa(code)+" "+enhanced))
			c.mu.Unlock()
		},
		OnAccept: func(size int64) { c.mu.Lock(); c.accepted = append(c.accepted, size); c.mu.Unlock() },
	})
}

// rejected counts the rejects reported with the reply "code enhanced".
func (c *counts) rejected(reply string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.rejects {
		if r == reply {
			n++
		}
	}
	return n
}

func (c *counts) snapshot() counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return counts{sessions: c.sessions, authFailures: c.authFailures, rejects: append([]string(nil), c.rejects...), accepted: append([]int64(nil), c.accepted...)}
}
