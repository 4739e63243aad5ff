package smtpd

import (
	"encoding/base64"
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

// prove runs the X-WAYPOST-HUB exchange as server name with secret and
// expects the final reply to start with want. It returns the challenge.
func (c *client) prove(name string, secret []byte, want string) []byte {
	c.t.Helper()
	line := c.cmd("AUTH "+hubauth.Mechanism, "334 ")
	ch, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(line, "334 ")))
	if err != nil {
		c.t.Fatalf("challenge %q: %v", line, err)
	}
	resp, err := hubauth.Response(secret, ch, name)
	if err != nil {
		c.t.Fatal(err)
	}
	c.cmd(base64.StdEncoding.EncodeToString(resp), want)
	return ch
}

func TestRelayRefusesMailWithoutProof(t *testing.T) {
	h := startRelay(t)
	c := h.hello()
	c.cmd("MAIL FROM:<x@fabrikam.test>", "530 5.7.0 Hub authentication required")
	// Being on loopback or in any range changes nothing.
	c.cmd("RCPT TO:<bob@fabrikam.test>", "502 ")
	if n := len(h.q.all()); n != 0 {
		t.Fatalf("%d messages queued", n)
	}
}

func TestRelayWrongProof(t *testing.T) {
	h := startRelay(t)
	c := h.hello()
	c.prove("hub-hq", []byte("other secret"), "535 5.7.8")
	c.cmd("AUTH PLAIN "+plain("hub-hq", string(testSecret)), "504 ") // only the challenge mechanism
	c.cmd("MAIL FROM:<x@fabrikam.test>", "530 5.7.0")
	c2 := h.hello()
	c2.prove("nobody", testSecret, "535 5.7.8") // not a server
	c2.cmd("AUTH LOGIN", "504 ")
	// A response recorded from one exchange is refused in the next one.
	c3 := h.hello()
	ch := c3.prove("hub-hq", testSecret, "235 ")
	old, _ := hubauth.Response(testSecret, ch, "hub-hq")
	c4 := h.hello()
	c4.cmd("AUTH "+hubauth.Mechanism, "334 ")
	c4.cmd(base64.StdEncoding.EncodeToString(old), "535 5.7.8")
}

func TestRelayKeepsEnvelope(t *testing.T) {
	h := startRelay(t)
	c := h.hello()
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
	c := h.hello()
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

	r := relay.hello() // from 127.0.0.1, locked out: still greeted
	r.prove("hub-hq", []byte("other secret"), "535 5.7.8")
	r.prove("hub-hq", testSecret, "235 ")
	r.transaction("carol@fabrikam.test", "alice@contoso.test")
	r.send("Subject: relayed from a locked-out address\r\n\r\nbody\r\n.\r\n")
	r.expect("250 ")
	if n := len(relay.q.all()); n != 1 {
		t.Errorf("%d messages queued by the relay listener, want 1", n)
	}
}
