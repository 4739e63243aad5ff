package test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/testcert"
	"github.com/waypost/waypost/test/harness"
)

// TLS between hubs (docs/operations.md, "Hub to hub"): two real hubs of
// the seed scenario, hub-hq1 and hub-branch, with a TCP proxy on loopback
// between hub-hq1 and hub-branch's relay listener. hub-branch listens on
// its own relay address; hub-hq1 reads an organization file that is the
// same but for hub-branch's relay address, which is the proxy's.

// wireProxy forwards connections from its address to target and records
// what passes. In passthrough mode it copies the bytes as they are and
// records them; in man-in-the-middle mode it relays the SMTP dialogue up
// to STARTTLS, then terminates TLS on both sides (its own certificate to
// the client, a TLS client to target) and records the plaintext it reads.
type wireProxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	cert   *testcert.Cert
	mitm   atomic.Bool

	mu        sync.Mutex
	raw       bytes.Buffer // every byte, both ways, as on the wire
	plain     bytes.Buffer // what the man in the middle read from the client inside TLS
	handshook int          // TLS handshakes the man in the middle completed with the client
}

func startProxy(t *testing.T, addr, target string) *wireProxy {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &wireProxy{t: t, ln: ln, target: target, cert: testcert.New(t, "hub-branch.contoso.test")}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.serve(c) })
		}
	})
	return p
}

func (p *wireProxy) record(buf *bytes.Buffer, b []byte) {
	p.mu.Lock()
	buf.Write(b)
	p.mu.Unlock()
}

// recorder is a writer that records into one of the proxy's buffers.
type recorder struct {
	p   *wireProxy
	buf *bytes.Buffer
}

func (r recorder) Write(b []byte) (int, error) { r.p.record(r.buf, b); return len(b), nil }

func (p *wireProxy) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	deadline := time.Now().Add(30 * time.Second)
	client.SetDeadline(deadline)
	server.SetDeadline(deadline)
	if !p.mitm.Load() {
		pipe(io.MultiWriter(client, recorder{p, &p.raw}), server, io.MultiWriter(server, recorder{p, &p.raw}), client)
		return
	}
	// The dialogue in clear, one command and its reply at a time, up to
	// STARTTLS and its 220.
	cr, sr := bufio.NewReader(client), bufio.NewReader(server)
	if !copyReply(sr, client) {
		return
	}
	for {
		line, err := cr.ReadString('\n')
		if err != nil {
			return
		}
		server.Write([]byte(line))
		code, ok := copyReplyCode(sr, client)
		if !ok {
			return
		}
		if strings.EqualFold(strings.TrimSpace(line), "STARTTLS") && code == "220" {
			break
		}
	}
	toServer := tls.Client(server, &tls.Config{InsecureSkipVerify: true})
	toClient := tls.Server(client, &tls.Config{Certificates: []tls.Certificate{p.cert.TLS}})
	if toServer.Handshake() != nil || toClient.Handshake() != nil {
		return
	}
	p.mu.Lock()
	p.handshook++
	p.mu.Unlock()
	pipe(toClient, toServer, io.MultiWriter(toServer, recorder{p, &p.plain}), toClient)
}

// pipe copies both ways until either way ends: src1 to dst1, src2 to dst2.
func pipe(dst1 io.Writer, src1 io.Reader, dst2 io.Writer, src2 io.Reader) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(dst1, src1); done <- struct{}{} }()
	go func() { io.Copy(dst2, src2); done <- struct{}{} }()
	<-done
}

func copyReply(r *bufio.Reader, w io.Writer) bool {
	_, ok := copyReplyCode(r, w)
	return ok
}

// copyReplyCode copies one SMTP reply (all its lines) and returns its code.
func copyReplyCode(r *bufio.Reader, w io.Writer) (string, bool) {
	for {
		line, err := r.ReadString('\n')
		if err != nil || len(line) < 4 {
			return "", false
		}
		w.Write([]byte(line))
		if line[3] == ' ' {
			return line[:3], true
		}
	}
}

func (p *wireProxy) bytes() (raw, plain string, handshakes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String(), p.plain.String(), p.handshook
}

// proxied starts the seed scenario's hub-branch on its relay address and
// hub-hq1 with hub-branch's relay address replaced by a proxy's.
func proxied(t *testing.T, mitm bool) (*seed, *wireProxy) {
	s := newSeed(t)
	branchRelay := s.vars["BRANCH_RELAY"]
	p := startProxy(t, harness.Port(t), branchRelay)
	p.mitm.Store(mitm)
	// hub-hq1's view of the organization: the same, but for the address
	// it relays to hub-branch at.
	hq1File := filepath.Join(s.dir, "org-hq1.toml")
	text := s.template
	for k, v := range s.vars {
		if k == "BRANCH_RELAY" {
			v = p.ln.Addr().String()
		}
		text = strings.ReplaceAll(text, "@"+k+"@", v)
	}
	harness.Write(t, hq1File, text)
	s.start("hub-branch")
	relay, submit := s.addrs("hub-hq1")
	s.hubs["hub-hq1"] = harness.Start(t, hq1File, "hub-hq1", relay, submit)
	return s, p
}

// A message relayed between two hubs through a recording proxy: it
// arrives, and the bytes on the wire hold neither its body nor its
// subject nor its addresses, since the hubs spoke TLS.
func TestHubRelayEncrypted(t *testing.T) {
	s, p := proxied(t, false)
	bob := delivery.Folder("bob@contoso.test")
	s.submit("hub-hq1", "alice@contoso.test", "bob@contoso.test", "quarterly figures")
	s.waitFor("Alice's message in Bob's Maildir", func() bool { return len(harness.Maildir(t, s.data("hub-branch"), bob)) == 1 })
	got := harness.Maildir(t, s.data("hub-branch"), bob)[0]
	if !strings.Contains(got, "quarterly figures body") || !strings.Contains(got, "with ESMTPSA") {
		t.Errorf("Bob's message:\n%s", got)
	}
	// Each hub made its self-signed relay certificate in its data folder.
	for _, hub := range []string{"hub-hq1", "hub-branch"} {
		fi, err := os.Stat(filepath.Join(s.data(hub), "relay-tls.pem"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s's relay certificate: %v %v", hub, fi, err)
		}
	}
	raw, _, _ := p.bytes()
	if !strings.Contains(raw, "STARTTLS") || len(raw) < 1000 {
		t.Fatalf("the proxy saw no relay (%d bytes):\n%q", len(raw), raw)
	}
	for _, secret := range []string{"quarterly figures", "bob@contoso.test", "alice@contoso.test", "MAIL FROM", "X-WAYPOST-HUB"} {
		if strings.Contains(strings.ToLower(raw), strings.ToLower(secret)) {
			t.Errorf("%q travels in clear between the hubs", secret)
		}
	}
}

// A man in the middle that terminates TLS with its own certificate and
// relays to the real hub: hub-hq1 finds that the challenge it is shown
// does not prove the hub secret for its TLS channel, sends no message and
// keeps the mail queued; once the proxy passes the bytes on untouched,
// the mail flows.
func TestHubRelayManInTheMiddle(t *testing.T) {
	s, p := proxied(t, true)
	bob := delivery.Folder("bob@contoso.test")
	s.submit("hub-hq1", "alice@contoso.test", "bob@contoso.test", "merger plans")
	s.waitFor("a DEFER for hub:hub-branch naming the proof", func() bool {
		for _, line := range strings.Split(s.tracking("hub-hq1"), "\n") {
			if strings.Contains(line, `"event":"DEFER"`) && strings.Contains(line, `"next_hop":"hub:hub-branch"`) && strings.Contains(line, "wrong server proof") {
				return true
			}
		}
		return false
	})
	// Give the retries (every second in this scenario) time to go wrong.
	time.Sleep(2 * time.Second)
	if n := len(harness.Maildir(t, s.data("hub-branch"), bob)); n != 0 {
		t.Fatalf("Bob got %d messages through the man in the middle", n)
	}
	_, plain, handshakes := p.bytes()
	if handshakes == 0 {
		t.Fatalf("hub-hq1 never completed TLS with the man in the middle\n%s", s.logs())
	}
	if !strings.Contains(plain, "AUTH X-WAYPOST-HUB") {
		t.Errorf("the man in the middle saw no login attempt: %q", plain)
	}
	for _, secret := range []string{"merger plans", "bob@contoso.test", "alice@contoso.test", "MAIL FROM"} {
		if strings.Contains(strings.ToLower(plain), strings.ToLower(secret)) {
			t.Errorf("the man in the middle read %q:\n%s", secret, plain)
		}
	}
	if strings.Contains(s.tracking("hub-branch"), `"via relay"`) {
		t.Errorf("hub-branch accepted a relay through the man in the middle:\n%s", s.tracking("hub-branch"))
	}

	// The proxy steps aside: the queued message goes through.
	p.mitm.Store(false)
	s.waitFor("the queued message in Bob's Maildir", func() bool { return len(harness.Maildir(t, s.data("hub-branch"), bob)) == 1 })
	if got := harness.Maildir(t, s.data("hub-branch"), bob)[0]; !strings.Contains(got, "merger plans body") {
		t.Errorf("Bob's message:\n%s", got)
	}
}
