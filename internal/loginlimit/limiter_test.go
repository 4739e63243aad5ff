package loginlimit

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type lockouts struct {
	mu  sync.Mutex
	got []string
}

func (l *lockouts) add(service, kind string) {
	l.mu.Lock()
	l.got = append(l.got, service+"/"+kind)
	l.mu.Unlock()
}

func (l *lockouts) list() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.got, " ")
}

func newTest(p Policy) (*Limiter, *clock, *lockouts, *bytes.Buffer) {
	var logs bytes.Buffer
	l := New(p, slog.New(slog.NewTextHandler(&logs, nil)))
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l.Now = c.now
	lo := &lockouts{}
	l.OnLockout = lo.add
	return l, c, lo, &logs
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// MaxPerAddr failures from one address lock it out for Lockout, whatever
// account it tries; the lockout is logged and reported once.
func TestAddressLockout(t *testing.T) {
	l, c, lo, logs := newTest(Policy{MaxPerAddr: 3, Window: time.Minute, Lockout: 10 * time.Minute})
	bad := ip("192.0.2.7")
	for i := range 3 {
		a := l.Check("smtp", fmt.Sprintf("user%d@contoso.test", i), bad)
		if a.Refused {
			t.Fatalf("attempt %d refused", i+1)
		}
		if got, want := a.Result(false), map[bool]string{true: KindAddress, false: ""}[i == 2]; got != want {
			t.Errorf("attempt %d: Result %q, want %q", i+1, got, want)
		}
	}
	if a := l.Check("api", "alice@contoso.test", bad); !a.Refused || a.Locked != KindAddress {
		t.Errorf("after 3 failures: %+v, want refused for the address", a)
	}
	if !l.AddrLocked(bad) || l.AddrLocked(ip("192.0.2.8")) {
		t.Error("AddrLocked wrong")
	}
	if a := l.Check("smtp", "alice@contoso.test", ip("192.0.2.8")); a.Refused || a.Delay != 0 {
		t.Errorf("another address: %+v", a)
	}
	// An IPv6 /64 is one address.
	for i := range 3 {
		l.Check("smtp", "x", ip(fmt.Sprintf("2001:db8::%d", i+1))).Result(false)
	}
	if !l.AddrLocked(ip("2001:db8::ffff")) || l.AddrLocked(ip("2001:db8:0:1::1")) {
		t.Error("IPv6 /64 not counted as one address")
	}
	c.add(10 * time.Minute)
	if l.AddrLocked(bad) {
		t.Error("still locked after the lockout")
	}
	if got := lo.list(); got != "smtp/address smtp/address" {
		t.Errorf("OnLockout %q", got)
	}
	if n := strings.Count(logs.String(), "login lockout"); n != 2 {
		t.Errorf("%d lockouts logged, want 2:\n%s", n, logs)
	}
}

// Failures spread over many addresses (each below the address limit) lock
// the account: a new address is refused even with the right password, and
// the real user, from an address she logged in from before, is delayed
// but let in.
func TestAccountLockout(t *testing.T) {
	l, c, lo, logs := newTest(Policy{MaxPerAddr: 5, MaxPerAccount: 10, Window: time.Hour, Lockout: 30 * time.Minute, KnownDelay: 3 * time.Second})
	home := ip("198.51.100.20")
	l.Check("smtp", "alice@contoso.test", home).Result(true)
	for i := range 10 {
		a := l.Check("smtp", "Alice@Contoso.test", ip(fmt.Sprintf("203.0.113.%d", i+1)))
		if a.Refused || a.Delay != 0 {
			t.Fatalf("guess %d: %+v", i+1, a)
		}
		a.Result(false)
	}
	a := l.Check("api", "alice@contoso.test", ip("203.0.113.99"))
	if !a.Refused || a.Locked != KindAccount {
		t.Fatalf("a new address at a locked account: %+v, want refused for the account", a)
	}
	a.Result(false) // counts against that address only
	a = l.Check("smtp", "alice@contoso.test", home)
	if a.Refused || a.Delay != 3*time.Second {
		t.Errorf("the real user's address: %+v, want a delay of 3s and no refusal", a)
	}
	a.Result(true)
	if a := l.Check("smtp", "bob@contoso.test", ip("203.0.113.99")); a.Refused {
		t.Errorf("another account refused: %+v", a)
	}
	// A name with blanks around it is another account (and not locked).
	if a := l.Check("smtp", " alice@contoso.test", ip("203.0.113.99")); a.Refused {
		t.Errorf("%+v", a)
	}
	c.add(30 * time.Minute)
	if a := l.Check("smtp", "alice@contoso.test", ip("203.0.113.99")); a.Refused || a.Delay != 0 {
		t.Errorf("after the lockout: %+v", a)
	}
	if got := lo.list(); got != "smtp/account" {
		t.Errorf("OnLockout %q, want one account lockout", got)
	}
	if !strings.Contains(logs.String(), "account=alice@contoso.test") {
		t.Errorf("the account is not in the log:\n%s", logs)
	}
}

// Failures older than the window do not count; a zero limit turns a count
// off; a nil limiter allows everything.
func TestWindowAndOff(t *testing.T) {
	l, c, _, _ := newTest(Policy{MaxPerAddr: 3, MaxPerAccount: 0, Window: time.Minute})
	a := ip("192.0.2.1")
	for range 10 {
		l.Check("smtp", "alice", a).Result(false)
		l.Check("smtp", "alice", a).Result(false)
		c.add(2 * time.Minute)
	}
	if l.AddrLocked(a) {
		t.Error("locked by failures spread over many windows")
	}
	for i := range 50 {
		if at := l.Check("smtp", "alice", ip(fmt.Sprintf("10.0.0.%d", i))); at.Refused {
			t.Fatal("account limit 0 still refused")
		} else {
			at.Result(false)
		}
	}
	var none *Limiter
	if at := none.Check("smtp", "alice", a); at.Refused || at.Result(false) != "" || none.AddrLocked(a) {
		t.Error("nil limiter refused")
	}
}

// The tables stay bounded under a flood of distinct addresses and names.
func TestBounded(t *testing.T) {
	l, c, _, _ := newTest(Policy{MaxPerAddr: 3, MaxPerAccount: 3, Window: time.Minute})
	for i := range 5000 {
		l.Check("smtp", fmt.Sprint("u", i), netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})).Result(false)
		if i%1000 == 999 {
			c.add(2 * time.Minute)
		}
	}
	l.mu.Lock()
	n := len(l.addrs) + len(l.accounts)
	l.mu.Unlock()
	if n > 4000 {
		t.Errorf("%d records kept after the window passed, want old ones swept", n)
	}
}

// With Resolve, the account count is kept per mailbox: guesses at two
// proxy addresses of one mailbox, on two services, count together, and a
// login by one name makes its address known for the others. A name that
// resolves to no mailbox is counted as written.
func TestAccountAliases(t *testing.T) {
	l, _, lo, logs := newTest(Policy{MaxPerAccount: 4, Window: time.Minute, Lockout: time.Minute})
	mailboxes := map[string]string{
		"alice@contoso.test":   "Alice@contoso.test",
		"a.smith@contoso.test": "Alice@contoso.test",
	}
	l.Resolve = func(user string) (string, bool) {
		m, ok := mailboxes[strings.ToLower(user)]
		return m, ok
	}
	if a := l.Check("smtp", "a.smith@contoso.test", ip("192.0.2.1")); a.Refused {
		t.Fatal("refused before any failure")
	} else {
		a.Result(true) // Alice's own address, by her alias
	}
	for i, name := range []string{"alice@contoso.test", "A.Smith@contoso.test", "alice@contoso.test", "a.smith@contoso.test"} {
		a := l.Check([]string{"smtp", "api"}[i%2], name, ip(fmt.Sprintf("198.51.100.%d", i+1)))
		if a.Refused {
			t.Fatalf("guess %d (%s) refused before the account was locked", i+1, name)
		}
		a.Result(false)
	}
	if got := lo.list(); got != "api/account" {
		t.Fatalf("lockouts %q, want api/account (the fourth guess at the mailbox)", got)
	}
	for _, name := range []string{"alice@contoso.test", "a.smith@contoso.test", "ALICE@contoso.test"} {
		a := l.Check("api", name, ip("203.0.113.9"))
		if !a.Refused || a.Locked != KindAccount {
			t.Errorf("%s from a new address: refused %v (%q), want an account lockout", name, a.Refused, a.Locked)
		}
		a.Result(false)
	}
	if a := l.Check("smtp", "alice@contoso.test", ip("192.0.2.1")); a.Refused || a.Delay == 0 {
		t.Errorf("Alice's known address (known by her alias): refused %v, delay %v; want a delay", a.Refused, a.Delay)
	}
	if !strings.Contains(logs.String(), "account=alice@contoso.test") {
		t.Errorf("the lockout does not name the mailbox:\n%s", logs.String())
	}
	// A name of no mailbox is its own account.
	for i := range 3 {
		a := l.Check("smtp", "nobody@contoso.test", ip(fmt.Sprintf("198.51.100.%d", 50+i)))
		if a.Refused {
			t.Fatalf("nobody@: guess %d refused", i+1)
		}
		a.Result(false)
	}
	if got := l.Account("Nobody@contoso.test"); got != "nobody@contoso.test" {
		t.Errorf("Account of an unresolved name = %q, want it as written, case folded", got)
	}
}
