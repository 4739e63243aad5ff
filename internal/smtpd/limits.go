package smtpd

import (
	"net/netip"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Limits against floods and password guessing (docs/operations.md,
// "Limits of a receive connector"). A client "address" is its IPv4 address, or the /64
// of its IPv6 address: one IPv6 site holds a whole /64, so per-address
// limits on single IPv6 addresses would be easy to walk around.

var (
	replyTooManyFromIP = reply(421, 4, 7, 0, "Too many connections from your address, try again later")
	replyTooManyConns  = reply(421, 4, 3, 2, "Too many connections, try again later")
	replyAuthTooMany   = reply(421, 4, 7, 0, "Too many failed authentication attempts, closing connection")
	replyAuthLockout   = reply(421, 4, 7, 0, "Too many failed authentication attempts from your address, try again later")
)

// clientKey is the address the per-client limits count under.
func clientKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a
}

// admit lets a new connection in, or returns the reply that refuses it and
// why: the listener is shutting down, the client is locked out after failed
// AUTH, or a connection limit is reached. An admitted guard is counted until
// forget.
func (l *Listener) admit(g *guard) (*smtp.SMTPError, string) {
	key := clientKey(g.remote.Addr())
	if l.authLimit.locked(key) {
		return replyAuthLockout, "locked out after failed AUTH"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closing:
		return replyShuttingDown, "shutting down"
	case l.rc.MaxConnections > 0 && len(l.conns) >= l.rc.MaxConnections:
		return replyTooManyConns, "max_connections reached"
	case l.rc.MaxConnectionsPerIP > 0 && l.perIP[key] >= l.rc.MaxConnectionsPerIP:
		return replyTooManyFromIP, "max_connections_per_ip reached"
	}
	l.conns[g] = struct{}{}
	l.perIP[key]++
	return nil, ""
}

// forget releases what admit counted for g.
func (l *Listener) forget(g *guard) {
	key := clientKey(g.remote.Addr())
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.conns[g]; !ok {
		return
	}
	delete(l.conns, g)
	if l.perIP[key]--; l.perIP[key] <= 0 {
		delete(l.perIP, key)
	}
}

// authLimiter counts failed AUTH per client address over a sliding window;
// max failures within window lock the address out for lockout. A zero
// max turns it off.
type authLimiter struct {
	max     int
	window  time.Duration
	lockout time.Duration
	now     func() time.Time

	mu      sync.Mutex
	clients map[netip.Addr]*authRecord
	sweep   int // records added since the last sweep of stale ones
}

type authRecord struct {
	fails []time.Time // within the window, oldest first
	until time.Time   // locked out until then
}

func newAuthLimiter(max int, window, lockout time.Duration) *authLimiter {
	return &authLimiter{max: max, window: window, lockout: lockout, now: time.Now, clients: map[netip.Addr]*authRecord{}}
}

// locked reports whether key is locked out now.
func (a *authLimiter) locked(key netip.Addr) bool {
	if a.max <= 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.clients[key]
	return r != nil && a.now().Before(r.until)
}

// fail counts a failed AUTH of key and reports whether key is locked out
// now.
func (a *authLimiter) fail(key netip.Addr) bool {
	if a.max <= 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	r := a.clients[key]
	if r == nil {
		r = &authRecord{}
		a.clients[key] = r
		if a.sweep++; a.sweep >= 1024 {
			a.sweepLocked(now)
		}
	}
	if now.Before(r.until) {
		return true
	}
	r.fails = pruneBefore(r.fails, now.Add(-a.window))
	r.fails = append(r.fails, now)
	if len(r.fails) >= a.max {
		r.fails = r.fails[:0]
		r.until = now.Add(a.lockout)
		return true
	}
	return false
}

// sweepLocked drops the records that no longer matter, so that the map does
// not grow with every address that ever failed once.
func (a *authLimiter) sweepLocked(now time.Time) {
	a.sweep = 0
	for k, r := range a.clients {
		r.fails = pruneBefore(r.fails, now.Add(-a.window))
		if len(r.fails) == 0 && !now.Before(r.until) {
			delete(a.clients, k)
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
