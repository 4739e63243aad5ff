package smtpd

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/hubauth"
	"github.com/waypost/waypost/internal/loginlimit"
	"github.com/waypost/waypost/internal/routing"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// startRelay serves the relay listener of hub-hq on a loopback port.
func startRelay(t *testing.T) *harness {
	t.Helper()
	return serve(t, func(org *config.Org, eng func() *routing.Engine, q Queue, log *slog.Logger) (*Listener, error) {
		return NewRelay(org, "hub-hq", testSecret, eng, q, log)
	})
}

func plain(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// hubHello dials, greets, starts TLS and greets again, as a hub does.
func (h *harness) hubHello() *client {
	c := h.hello()
	c.cmd("STARTTLS", "220 ")
	c.startTLS()
	c.cmd("EHLO client.fabrikam.test", "250 ")
	return c
}

// binding is the tls-exporter channel binding of c's TLS connection.
func (c *client) binding() []byte {
	c.t.Helper()
	st := c.conn.(*tls.Conn).ConnectionState()
	b, err := hubauth.Binding(&st)
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// challenge sends AUTH X-WAYPOST-HUB and returns the decoded challenge.
func (c *client) challenge() []byte {
	c.t.Helper()
	line := c.cmd("AUTH "+hubauth.Mechanism, "334 ")
	ch, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(line, "334 ")))
	if err != nil {
		c.t.Fatalf("challenge %q: %v", line, err)
	}
	return ch
}

// prove runs the X-WAYPOST-HUB exchange as server name with secret on c's
// TLS channel and expects the final reply to start with want. The
// response is computed as the package comment of hubauth writes it,
// without checking the server's proof (a client with another secret
// would refuse it), so that the server's check is what is tested. It
// returns the challenge.
func (c *client) prove(name string, secret []byte, want string) []byte {
	c.t.Helper()
	ch := c.challenge()
	c.cmd(base64.StdEncoding.EncodeToString(forge(secret, ch, c.binding(), name)), want)
	return ch
}

// forge is a client proof for challenge on the channel with binding,
// computed from hubauth's documented format:
// hex HMAC-SHA256(secret, "X-WAYPOST-HUB" 0 nonce 0 binding 0 client 0 server).
func forge(secret, challenge, binding []byte, client string) []byte {
	f := strings.Fields(string(challenge))
	if len(f) != 3 {
		return []byte("malformed")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(hubauth.Mechanism + "\x00" + f[1] + "\x00"))
	m.Write(binding)
	m.Write([]byte("\x00" + client + "\x00" + f[0]))
	return []byte(client + " " + hex.EncodeToString(m.Sum(nil)))
}

// Before TLS the relay listener offers STARTTLS and no AUTH, and refuses
// AUTH and MAIL (530 5.7.0); inside TLS it offers the hub mechanism and
// still refuses MAIL before the proof.
func TestRelayRefusesMailWithoutProof(t *testing.T) {
	h := startRelay(t)
	c := h.dial()
	ehlo := c.cmd("EHLO client.fabrikam.test", "250 ")
	if !strings.Contains(ehlo, "STARTTLS") || strings.Contains(ehlo, "AUTH") {
		t.Errorf("EHLO before TLS:\n%s", ehlo)
	}
	c.cmd("MAIL FROM:<x@fabrikam.test>", "530 5.7.0 Must issue a STARTTLS command first")
	c.cmd("AUTH "+hubauth.Mechanism, "530 5.7.0 Must issue a STARTTLS command first")
	// Being on loopback or in any range changes nothing.
	c.cmd("RCPT TO:<bob@fabrikam.test>", "502 ")
	c.cmd("STARTTLS", "220 ")
	c.startTLS()
	c.cmd("MAIL FROM:<x@fabrikam.test>", "503 5.5.1 Send EHLO first")
	ehlo = c.cmd("EHLO client.fabrikam.test", "250 ")
	if strings.Contains(ehlo, "STARTTLS") || !strings.Contains(ehlo, "AUTH "+hubauth.Mechanism) {
		t.Errorf("EHLO inside TLS:\n%s", ehlo)
	}
	c.cmd("MAIL FROM:<x@fabrikam.test>", "530 5.7.0 Hub authentication required")
	if n := len(h.q.all()); n != 0 {
		t.Fatalf("%d messages queued", n)
	}
}

func TestRelayWrongProof(t *testing.T) {
	h := startRelay(t)
	c := h.hubHello()
	c.prove("hub-hq", []byte("other secret"), "535 5.7.8")
	c.cmd("AUTH PLAIN "+plain("hub-hq", string(testSecret)), "504 ") // only the challenge mechanism
	c.cmd("MAIL FROM:<x@fabrikam.test>", "530 5.7.0")
	c2 := h.hubHello()
	c2.prove("nobody", testSecret, "535 5.7.8") // not a server
	c2.cmd("AUTH LOGIN", "504 ")
	// A response recorded from one exchange is refused in the next one.
	c3 := h.hubHello()
	ch := c3.prove("hub-hq", testSecret, "235 ")
	old := forge(testSecret, ch, c3.binding(), "hub-hq")
	c4 := h.hubHello()
	c4.cmd("AUTH "+hubauth.Mechanism, "334 ")
	c4.cmd(base64.StdEncoding.EncodeToString(old), "535 5.7.8")
}

// The challenge proves the secret for the client's own TLS channel, which
// hubauth's client checks; a response made for another channel (one a man
// in the middle holds with a real hub) is refused.
func TestRelayChannelBinding(t *testing.T) {
	h := startRelay(t)
	c := h.hubHello()
	ch := c.challenge()
	resp, err := (&hubauth.Client{Secret: testSecret, Server: "hub-hq", Peer: "hub-hq", Binding: c.binding()}).Next(ch)
	if err != nil {
		t.Fatalf("the listener's challenge fails the client's check: %v", err)
	}
	c.cmd(base64.StdEncoding.EncodeToString(resp), "235 ")

	// The same exchange, with the response computed for another channel.
	other := h.hubHello()
	c2 := h.hubHello()
	ch2 := c2.challenge()
	if _, err := (&hubauth.Client{Secret: testSecret, Server: "hub-hq", Binding: other.binding()}).Next(ch2); err == nil {
		t.Error("a challenge from another channel passed the client's check")
	}
	c2.cmd(base64.StdEncoding.EncodeToString(forge(testSecret, ch2, other.binding(), "hub-hq")), "535 5.7.8")
	c2.cmd("MAIL FROM:<x@fabrikam.test>", "530 5.7.0 Hub authentication required")
	if n := len(h.q.all()); n != 0 {
		t.Fatalf("%d messages queued", n)
	}
}

func TestRelayKeepsEnvelope(t *testing.T) {
	h := startRelay(t)
	c := h.hubHello()
	c.prove("hub-hq", testSecret, "235 ")
	c.cmd("MAIL FROM:<carol@fabrikam.test> RET=HDRS ENVID=abc+2Bdef", "250 ")
	// Any recipient: org-internal trust, no relay restriction.
	c.cmd("RCPT TO:<bob@elsewhere.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@elsewhere.test", "250 ")
	c.cmd("RCPT TO:<IMCEAFAX-+2B1+20555+200100@contoso.test> NOTIFY=NEVER ORCPT=x400;c+3DUS", "250 ")
	c.cmd("DATA", "354 ")
	arr := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	c.send(ArrivalHeader + ": " + arr.Format(time.RFC3339Nano) + "\r\nSubject: hi\r\n\r\nbody\r\n.\r\n")
	c.expect("250 ")
	msgs := h.q.all()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	env := msgs[0].env
	if !env.Arrival.Equal(arr) {
		t.Errorf("arrival %v, want %v", env.Arrival, arr)
	}
	if env.Ret != "HDRS" || env.EnvID != "abc+def" || env.From != "carol@fabrikam.test" || env.Auth != "hub:hub-hq" {
		t.Errorf("envelope %+v", env)
	}
	if len(env.Recipients) != 2 {
		t.Fatalf("recipients %+v", env.Recipients)
	}
	r0, r1 := env.Recipients[0], env.Recipients[1]
	if r0.Notify != "SUCCESS,FAILURE" || r0.ORCPT != "rfc822;bob@elsewhere.test" {
		t.Errorf("recipient 0 %+v", r0)
	}
	if r1.Notify != "NEVER" || r1.ORCPT != "x400;c=US" || r1.Decision.Type != "FAX" {
		t.Errorf("recipient 1 %+v", r1)
	}
	if strings.Contains(msgs[0].body, ArrivalHeader) {
		t.Errorf("arrival header kept:\n%s", msgs[0].body)
	}
	if !strings.HasPrefix(msgs[0].body, "Received: ") || !strings.Contains(msgs[0].body, "\r\nSubject: hi\r\n") {
		t.Errorf("body:\n%s", msgs[0].body)
	}
}

func TestRelayHopCount(t *testing.T) {
	h := startRelay(t)
	c := h.hubHello()
	c.prove("hub-hq", testSecret, "235 ")
	c.transaction("carol@fabrikam.test", "alice@contoso.test")
	c.send(strings.Repeat("Received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000\r\n", 31) + "\r\nbody\r\n.\r\n")
	c.expect("554 5.4.6")
}

// The hub's login limiter is shared by all its services: an address locked
// out by failed logins elsewhere (here two failed AUTH on submission) is
// refused by the other listeners, but not by the relay listener, which
// takes a valid proof from it; a failed proof there still counts against
// the address.
func TestRelayLockedAddress(t *testing.T) {
	lim := loginlimit.New(loginlimit.Policy{MaxPerAddr: 2, MaxPerAccount: 20, Window: time.Minute, Lockout: time.Minute}, slog.New(slog.DiscardHandler))
	shared := func(l *Listener) { l.SetLoginLimiter(lim) }
	relay := serve(t, func(org *config.Org, eng func() *routing.Engine, q Queue, log *slog.Logger) (*Listener, error) {
		return NewRelay(org, "hub-hq", testSecret, eng, q, log)
	}, shared)
	sub := start(t, "Clients", nil, shared)

	c := sub.helloFrom("127.0.0.1")
	c.cmd(authPlain("alice@contoso.test", "guess1"), "535 5.7.8 ")
	c.cmd(authPlain("alice@contoso.test", "guess2"), "535 5.7.8 ")
	if !lim.AddrLocked(mustAddr("127.0.0.1")) {
		t.Fatal("two failures did not lock 127.0.0.1 out")
	}
	sub.dialRaw().expect("421 4.7.0 Too many failed authentication attempts from your address")

	r := relay.hubHello() // from 127.0.0.1, locked out: still greeted
	r.prove("hub-hq", []byte("other secret"), "535 5.7.8")
	r.prove("hub-hq", testSecret, "235 ")
	r.transaction("carol@fabrikam.test", "alice@contoso.test")
	r.send("Subject: relayed from a locked-out address\r\n\r\nbody\r\n.\r\n")
	r.expect("250 ")
	if n := len(relay.q.all()); n != 1 {
		t.Errorf("%d messages queued by the relay listener, want 1", n)
	}
}
