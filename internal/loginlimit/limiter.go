package loginlimit

import (
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Policy says how many failures lock what, and for how long.
type Policy struct {
	MaxPerAddr    int           // failures from one address within Window that lock it out; 0: no address limit
	MaxPerAccount int           // failures at one account, from any address, within Window that lock it; 0: no account limit
	Window        time.Duration // failures older than this are forgotten
	Lockout       time.Duration // how long a lockout lasts
	KnownDelay    time.Duration // the wait of a locked account's login from an address it logged in from before
	KnownFor      time.Duration // how long an address is remembered after a successful login
}

// Defaults of a Policy's zero fields (MaxPerAddr and MaxPerAccount are
// taken as they are: 0 turns that count off).
const (
	DefaultMaxPerAddr    = 10
	DefaultMaxPerAccount = 20
	DefaultWindow        = 5 * time.Minute
	DefaultLockout       = 5 * time.Minute
	DefaultKnownDelay    = 2 * time.Second
	DefaultKnownFor      = 30 * 24 * time.Hour
)

// DefaultPolicy is the policy of a service with no settings of its own.
func DefaultPolicy() Policy {
	return Policy{MaxPerAddr: DefaultMaxPerAddr, MaxPerAccount: DefaultMaxPerAccount}
}

// Kinds of lockout, as logged and as the metrics label.
const (
	KindAddress = "address"
	KindAccount = "account"
)

// maxRecords bounds each table (addresses, accounts): past it, records
// that no longer matter are swept, and if that is not enough the oldest
// failures are forgotten first.
const maxRecords = 100_000

// Limiter is the state of one policy, shared by the services given it. Its
// methods are safe for concurrent use.
type Limiter struct {
	p   Policy
	log *slog.Logger

	// OnLockout, if set, is called (outside the lock) for every lockout:
	// the service whose failure caused it and the kind (KindAddress,
	// KindAccount). Set it before use.
	OnLockout func(service, kind string)
	// Now is the clock (tests move it); nil means time.Now.
	Now func() time.Time
	// Resolve, if set, returns the mailbox a login name stands for (its
	// canonical address: the primary SMTP address), so that the per-account
	// count is kept per mailbox and not per name: guesses at
	// "alice@contoso.test" and "a.smith@contoso.test", two proxy addresses
	// of one mailbox, count together. ok false: the name stands for no
	// mailbox (or the directory cannot say), and the name as written is the
	// account. It is called outside the limiter's lock, once per Check. Set
	// it before use.
	Resolve func(user string) (mailbox string, ok bool)

	mu       sync.Mutex
	addrs    map[netip.Addr]*record
	accounts map[string]*account
	added    int // records added since the last sweep
}

// record is the failures of an address or an account.
type record struct {
	fails []time.Time // within the window, oldest first
	until time.Time   // locked until then
}

type account struct {
	record
	known map[netip.Addr]time.Time // addresses it logged in from, and when last
}

// New returns a limiter with policy p (zero durations take the defaults);
// log may be nil.
func New(p Policy, log *slog.Logger) *Limiter {
	if p.Window <= 0 {
		p.Window = DefaultWindow
	}
	if p.Lockout <= 0 {
		p.Lockout = DefaultLockout
	}
	if p.KnownDelay <= 0 {
		p.KnownDelay = DefaultKnownDelay
	}
	if p.KnownFor <= 0 {
		p.KnownFor = DefaultKnownFor
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Limiter{p: p, log: log, addrs: map[netip.Addr]*record{}, accounts: map[string]*account{}}
}

// Policy returns the limiter's policy, defaults filled in.
func (l *Limiter) Policy() Policy { return l.p }

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Key is the address the per-address count is kept under: an IPv4 address
// as it is, an IPv6 address as its /64 (one site holds a whole /64).
func Key(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}

// accountKey folds the case of a user name, and nothing else: " alice" is
// not "alice".
func accountKey(user string) string { return strings.ToLower(user) }

// Account returns the key of the per-account count for a login name: the
// mailbox it resolves to (Resolve), else the name as written, case folded.
func (l *Limiter) Account(user string) string {
	if l != nil && l.Resolve != nil {
		if m, ok := l.Resolve(user); ok && m != "" {
			return accountKey(m)
		}
	}
	return accountKey(user)
}

// Attempt is the verdict on one login before its password is checked.
type Attempt struct {
	// Refused: do not check the password; tell the client to try again
	// later. Locked says what is locked (KindAddress or KindAccount) and
	// Until when it ends.
	Refused bool
	Locked  string
	Until   time.Time
	// Delay: wait this long, then check the password (the account is
	// locked, but this address logged in to it before).
	Delay time.Duration

	l       *Limiter
	service string
	account string
	addr    netip.Addr
	done    bool
}

// AddrLocked reports whether addr is locked out now, for a service that
// refuses a locked-out address before any login (SMTP at connect).
func (l *Limiter) AddrLocked(addr netip.Addr) bool {
	if l == nil || l.p.MaxPerAddr <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.addrs[Key(addr)]
	return r != nil && l.now().Before(r.until)
}

// Check is asked before the password of account (a login name) is checked
// for a client at addr, on service (a fixed word for logs and metrics:
// "smtp", "relay", "api"). The account is counted under the mailbox the
// name resolves to (Account). A nil Limiter allows everything.
func (l *Limiter) Check(service, account string, addr netip.Addr) *Attempt {
	if l == nil {
		return &Attempt{service: service, account: accountKey(account), addr: Key(addr)}
	}
	a := &Attempt{l: l, service: service, account: l.Account(account), addr: Key(addr)}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.addrs[a.addr]; r != nil && l.p.MaxPerAddr > 0 && now.Before(r.until) {
		a.Refused, a.Locked, a.Until = true, KindAddress, r.until
		return a
	}
	if acc := l.accounts[a.account]; acc != nil && l.p.MaxPerAccount > 0 && now.Before(acc.until) {
		if seen, ok := acc.known[a.addr]; ok && now.Sub(seen) < l.p.KnownFor {
			a.Delay = l.p.KnownDelay
			return a
		}
		a.Refused, a.Locked, a.Until = true, KindAccount, acc.until
	}
	return a
}

// Result tells the outcome of the password check (ok: it matched). A
// refused attempt counts as a failure of its address only. It returns the
// kind of lockout this failure started ("" for none). Only the first call
// counts.
func (a *Attempt) Result(ok bool) (locked string) {
	l := a.l
	if l == nil || a.done {
		return ""
	}
	a.done = true
	now := l.now()
	var lockouts []string
	l.mu.Lock()
	if ok {
		if l.p.MaxPerAccount > 0 {
			acc := l.accountRecord(a.account, now)
			if acc.known == nil {
				acc.known = map[netip.Addr]time.Time{}
			}
			acc.known[a.addr] = now
		}
		if r := l.addrs[a.addr]; r != nil && !now.Before(r.until) {
			r.fails = r.fails[:0] // a good login clears its address's failures
		}
		l.mu.Unlock()
		return ""
	}
	if l.p.MaxPerAddr > 0 {
		r := l.addrs[a.addr]
		if r == nil {
			r = &record{}
			l.addrs[a.addr] = r
			l.added++
		}
		if r.fail(now, l.p.MaxPerAddr, l.p.Window, l.p.Lockout) {
			lockouts = append(lockouts, KindAddress)
			l.log.Warn("login lockout: too many failed logins from one address", "service", a.service, "remote", a.addr.String(),
				"failures", l.p.MaxPerAddr, "window", l.p.Window, "until", r.until.Format(time.RFC3339))
		}
	}
	if l.p.MaxPerAccount > 0 && !a.Refused {
		acc := l.accountRecord(a.account, now)
		if acc.fail(now, l.p.MaxPerAccount, l.p.Window, l.p.Lockout) {
			lockouts = append(lockouts, KindAccount)
			l.log.Warn("login lockout: too many failed logins at one account; only addresses it logged in from before may log in, delayed",
				"service", a.service, "account", a.account, "last_remote", a.addr.String(),
				"failures", l.p.MaxPerAccount, "window", l.p.Window, "until", acc.until.Format(time.RFC3339))
		}
	}
	if l.added >= 1024 || len(l.addrs)+len(l.accounts) > 2*maxRecords {
		l.sweepLocked(now)
	}
	l.mu.Unlock()
	for _, k := range lockouts {
		if l.OnLockout != nil {
			l.OnLockout(a.service, k)
		}
	}
	if len(lockouts) > 0 {
		return lockouts[0]
	}
	return ""
}

// accountRecord returns the record of an account, made if need be; mu is
// held.
func (l *Limiter) accountRecord(key string, now time.Time) *account {
	acc := l.accounts[key]
	if acc == nil {
		acc = &account{}
		l.accounts[key] = acc
		l.added++
	}
	return acc
}

// fail counts a failure at now and reports whether it starts a lockout.
// A failure during a lockout only counts toward the next window.
func (r *record) fail(now time.Time, max int, window, lockout time.Duration) bool {
	r.fails = pruneBefore(r.fails, now.Add(-window))
	if now.Before(r.until) {
		return false
	}
	r.fails = append(r.fails, now)
	if len(r.fails) < max {
		return false
	}
	r.fails = r.fails[:0]
	r.until = now.Add(lockout)
	return true
}

// sweepLocked drops what no longer matters: failures out of the window,
// ended lockouts, known addresses past KnownFor. If the tables are still
// over maxRecords, records without a lockout or a known address go.
func (l *Limiter) sweepLocked(now time.Time) {
	l.added = 0
	for k, r := range l.addrs {
		r.fails = pruneBefore(r.fails, now.Add(-l.p.Window))
		if len(r.fails) == 0 && !now.Before(r.until) {
			delete(l.addrs, k)
		}
	}
	for k, acc := range l.accounts {
		acc.fails = pruneBefore(acc.fails, now.Add(-l.p.Window))
		for a, t := range acc.known {
			if now.Sub(t) >= l.p.KnownFor {
				delete(acc.known, a)
			}
		}
		if len(acc.fails) == 0 && !now.Before(acc.until) && len(acc.known) == 0 {
			delete(l.accounts, k)
		}
	}
	for k, r := range l.addrs {
		if len(l.addrs) <= maxRecords {
			break
		}
		if !now.Before(r.until) {
			delete(l.addrs, k)
		}
	}
	for k, acc := range l.accounts {
		if len(l.accounts) <= maxRecords {
			break
		}
		if !now.Before(acc.until) && len(acc.known) == 0 {
			delete(l.accounts, k)
		}
	}
}

// pruneBefore drops the times before t from a sorted slice.
func pruneBefore(ts []time.Time, t time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(t) {
		i++
	}
	return append(ts[:0], ts[i:]...)
}
