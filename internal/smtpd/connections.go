package smtpd

import (
	"net/netip"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/loginlimit"
	"github.com/waypost/waypost/internal/status"
)

// Connection accounting: max_connections and max_connections_per_ip
// (docs/operations.md, "Connections"). A client "address" is its IPv4
// address, or the /64 of its IPv6 address: one IPv6 site holds a whole
// /64, so per-address limits on single IPv6 addresses would be easy to
// walk around.

var (
	replyTooManyFromIP = reply(status.ReplyNotAvailable, status.SecurityTransient, "Too many connections from your address, try again later")
	replyTooManyConns  = reply(status.ReplyNotAvailable, status.NotAccepting, "Too many connections, try again later")
)

// clientKey is the address the per-client limits count under (the same as
// the login limiter's).
func clientKey(a netip.Addr) netip.Addr { return loginlimit.Key(a) }

// admit lets a new connection in, or returns the reply that refuses it and
// why: the listener is shutting down, the client is locked out after failed
// AUTH, or a connection limit is reached and no idle or slow session can
// make room (stress.go). An admitted guard is counted until forget.
func (l *Listener) admit(g *guard) (*smtp.SMTPError, string) {
	key := clientKey(g.remote.Addr())
	if l.addrLocked(key) {
		return replyAuthLockout, "locked out after failed AUTH"
	}
	now := time.Now()
	l.mu.Lock()
	switch {
	case l.closing:
		l.mu.Unlock()
		return replyShuttingDown, "shutting down"
	case l.rc.MaxConnectionsPerIP > 0 && l.perIP[key] >= l.rc.MaxConnectionsPerIP:
		l.mu.Unlock()
		return replyTooManyFromIP, "max_connections_per_ip reached"
	}
	var victim *guard
	var why *smtp.SMTPError
	if l.rc.MaxConnections > 0 && len(l.conns) >= l.rc.MaxConnections {
		if victim, why = l.victimLocked(now); victim == nil {
			l.mu.Unlock()
			return replyTooManyConns, "max_connections reached"
		}
		l.forgetLocked(victim)
	}
	g.lastActive = now
	l.conns[g] = struct{}{}
	l.perIP[key]++
	shortenNow := l.updateStressLocked(now)
	l.mu.Unlock()
	if victim != nil {
		go victim.evict(why, "max_connections reached: closed to make room for "+g.remote.String())
	}
	l.shorten(shortenNow, now)
	return nil, ""
}

// forget releases what admit counted for g.
func (l *Listener) forget(g *guard) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetLocked(g)
}

func (l *Listener) forgetLocked(g *guard) {
	if _, ok := l.conns[g]; !ok {
		return
	}
	key := clientKey(g.remote.Addr())
	delete(l.conns, g)
	if l.perIP[key]--; l.perIP[key] <= 0 {
		delete(l.perIP, key)
	}
	l.updateStressLocked(time.Now())
}
