package smtpd

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/loginlimit"
)

// Guesses at one account from many addresses (each under the per-address
// limit) lock the account: a new address gets 454 4.7.0 even with the right
// password, while the real user, from an address she logged in from
// before, is let in after a delay. The lockout is logged and reported.
func TestAccountLockoutSMTP(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var kinds []string
	h := start(t, "Clients", nil, func(l *Listener) {
		lim := loginlimit.New(loginlimit.Policy{MaxPerAddr: 10, MaxPerAccount: 6, Window: time.Minute, Lockout: time.Minute, KnownDelay: 300 * time.Millisecond}, l.log)
		l.SetLoginLimiter(lim)
		lim.OnLockout = l.evLockout
		l.SetEvents(Events{OnLockout: func(service, kind string) { mu.Lock(); kinds = append(kinds, service+"/"+kind); mu.Unlock() }})
	})
	c := h.helloFrom("127.0.0.1")
	c.cmd(authPlain("alice@contoso.test", "secret"), "235 ") // her usual address
	c.cmd("QUIT", "221 ")

	for i := range 3 {
		c := h.helloFrom(fmt.Sprintf("127.0.1.%d", i+1))
		c.cmd(authPlain("alice@contoso.test", "guess1"), "535 5.7.8 ")
		c.cmd(authPlain("alice@contoso.test", "guess2"), "535 5.7.8 ")
		c.cmd("QUIT", "221 ")
	}
	// The sixth failure locked the account: a new address is refused,
	// the password unchecked.
	c = h.helloFrom("127.0.1.9")
	c.cmd(authPlain("alice@contoso.test", "secret"), "454 4.7.0 Too many failed authentication attempts for this account")
	c.cmd(authPlain("bob@contoso.test", "x"), "535 5.7.8 ") // another account is not locked
	// The real user is delayed, not refused.
	c = h.helloFrom("127.0.0.1")
	began := time.Now()
	c.cmd(authPlain("alice@contoso.test", "secret"), "235 ")
	if d := time.Since(began); d < 300*time.Millisecond {
		t.Errorf("the known address was let in after %v, want the 300ms delay", d)
	}
	mu.Lock()
	got := strings.Join(kinds, ",")
	mu.Unlock()
	if got != "smtp/account" {
		t.Errorf("OnLockout %q, want one account lockout", got)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "login lockout") || !strings.Contains(logs, "account=alice@contoso.test") {
		t.Errorf("the lockout is not logged:\n%s", logs)
	}
}

// The connector's own limiter counts per account too (with the default of
// package loginlimit) and reports lockouts through Events.
func TestConnectorLoginPolicy(t *testing.T) {
	t.Parallel()
	var got []string
	var mu sync.Mutex
	h := start(t, "Clients", nil, func(l *Listener) {
		l.SetEvents(Events{OnLockout: func(service, kind string) { mu.Lock(); got = append(got, service+"/"+kind); mu.Unlock() }})
	})
	h.hello().cmd("QUIT", "221 ")
	p := h.l.logins.Policy()
	if p.MaxPerAddr != h.l.rc.MaxAuthFailuresPerIP || p.MaxPerAccount != loginlimit.DefaultMaxPerAccount {
		t.Errorf("policy %+v", p)
	}
	for i := range p.MaxPerAccount {
		h.l.logins.Check("smtp", "carol@contoso.test", mustAddr(fmt.Sprintf("10.1.%d.1", i))).Result(false)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != "smtp/account" {
		t.Errorf("OnLockout %v", got)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// authPlain is an AUTH PLAIN command line for user and pass.
func authPlain(user, pass string) string {
	return "AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass))
}

// TestAuthLockout: three failed AUTH close a session; repeated
// failures from one address across sessions lock that address out, at
// connect and at AUTH, for auth_lockout; another address is not affected;
// the failures are reported to OnAuthFailure.
func TestAuthLockout(t *testing.T) {
	t.Parallel()
	ev := &counts{}
	h := start(t, "Clients", func(rc *config.ReceiveConnector) {
		rc.MaxAuthFailuresPerIP = 4
		rc.AuthFailureWindow = time.Minute
		rc.AuthLockout = 700 * time.Millisecond
	}, ev.option)
	early := h.helloFrom("127.0.0.1") // open before the lockout

	c := h.helloFrom("127.0.0.1")
	for i := 0; i < 2; i++ {
		c.cmd(authPlain("alice@contoso.test", "guess"), "535 5.7.8 ")
	}
	c.send(authPlain("alice@contoso.test", "guess") + "\r\n")
	c.expect("535 5.7.8 ")
	c.expect("421 4.7.0 Too many failed authentication attempts, closing connection")
	c.closed()

	// The fourth failure from 127.0.0.1 locks it out.
	c = h.helloFrom("127.0.0.1")
	c.send(authPlain("alice@contoso.test", "guess") + "\r\n")
	c.expect("535 5.7.8 ")
	c.expect("421 4.7.0 Too many failed authentication attempts from your address")
	c.closed()
	locked := time.Now()

	// A new connection is refused before the greeting, and AUTH in the
	// session opened earlier too, even with the right password.
	c = h.dialFrom("127.0.0.1")
	c.expect("421 4.7.0 Too many failed authentication attempts from your address")
	c.closed()
	early.send(authPlain("alice@contoso.test", "secret") + "\r\n")
	early.expect("421 4.7.0 ")
	early.closed()

	// Another address is not affected.
	c = h.helloFrom("127.0.0.2")
	c.cmd(authPlain("alice@contoso.test", "secret"), "235 ")
	c.cmd("QUIT", "221 ")

	// After the lockout, 127.0.0.1 may try again.
	time.Sleep(time.Until(locked.Add(800 * time.Millisecond)))
	c = h.helloFrom("127.0.0.1")
	c.cmd(authPlain("alice@contoso.test", "secret"), "235 ")

	s := ev.snapshot()
	if s.authFailures != 4 {
		t.Errorf("OnAuthFailure called %d times, want 4", s.authFailures)
	}
	if got := ev.rejected("421 4.7.0"); got != 4 { // session limit, lockout, connect, early AUTH
		t.Errorf("OnReject(421, 4.7.0) called %d times, want 4: %v", got, s.rejects)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "locked out after failed AUTH") || strings.Contains(logs, "guess") {
		t.Errorf("log:\n%s", logs)
	}
}
