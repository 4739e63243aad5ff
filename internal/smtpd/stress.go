package smtpd

import (
	"time"

	"github.com/emersion/go-smtp"
	"github.com/waypost/waypost/internal/status"
)

// Stress mode (Postfix's postscreen, anvil and smtpd stress mode; see
// docs/operations.md, "Limits of a receive connector"). A receive connector is under
// stress from stressPercent of max_connections until it is back under
// stressPercent less stressHysteresis. Under stress:
//
//   - every read waits at most stressTimeout (10 s, Postfix's stress
//     smtpd_timeout) instead of command_timeout and data_timeout, the
//     sessions already waiting included, and the min_data_rate grace of a
//     message is stressTimeout too: idle and slow clients are cut off
//     (421 4.4.2) within seconds;
//   - a new connection that finds the connector full does not get
//     421 4.3.2 while an idle session can make room: the session that has
//     been idle longest without a mail transaction and without AUTH is
//     closed with 421 4.3.2, or else the slowest message transfer that is
//     behind min_data_rate is cut off with 421 4.4.2.
//
// Each listener counts its own connections: a flood on the Internet-facing
// connector never takes a place on the submission connector or the relay
// listener.
const (
	stressPercent    = 80
	stressHysteresis = 10
	stressTimeout    = 10 * time.Second
	// slowGrace: a message transfer is judged for eviction only after this
	// long in DATA.
	slowGrace = time.Second
)

var (
	replyEvicted     = reply(status.ReplyNotAvailable, status.NotAccepting, "Too many connections: closing idle session to make room, try again later")
	replyEvictedSlow = reply(status.ReplyNotAvailable, status.BadConnection, "Too many connections: message data too slow, closing connection")
)

// stressed reports whether the listener is under stress, and since when.
func (l *Listener) stressed() (time.Time, bool) {
	n := l.stressSince.Load()
	if n == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// commandTimeout is how long a command line may take now.
func (l *Listener) commandTimeout() time.Duration {
	return l.shortened(l.rc.CommandTimeout)
}

// dataTimeout is how long a read of message data may take now.
func (l *Listener) dataTimeout() time.Duration {
	return l.shortened(l.rc.DataTimeout)
}

func (l *Listener) shortened(d time.Duration) time.Duration {
	if _, ok := l.stressed(); ok && (d <= 0 || d > l.stressTimeout) {
		return l.stressTimeout
	}
	return d
}

// updateStressLocked enters or leaves stress after the number of
// connections changed; l.mu is held. It returns the guards whose waits
// must be shortened (those there when stress began), to be done once l.mu
// is released.
func (l *Listener) updateStressLocked(now time.Time) []*guard {
	max := l.rc.MaxConnections
	if max <= 0 {
		return nil
	}
	n := len(l.conns)
	_, was := l.stressed()
	switch {
	case !was && n*100 >= max*stressPercent:
		l.stressSince.Store(now.UnixNano())
		l.log.Warn("receive connector under stress: idle and slow sessions get shorter timeouts, idle ones make room for new clients",
			"connections", n, "max_connections", max, "timeout", l.stressTimeout)
		gs := make([]*guard, 0, n)
		for g := range l.conns {
			gs = append(gs, g)
		}
		return gs
	case was && n*100 < max*(stressPercent-stressHysteresis):
		l.stressSince.Store(0)
		l.log.Info("receive connector no longer under stress", "connections", n, "max_connections", max)
	}
	return nil
}

// shorten makes the guards' current waits end within the stress timeout.
func (l *Listener) shorten(gs []*guard, now time.Time) {
	for _, g := range gs {
		g.shortenWait(now.Add(l.stressTimeout))
	}
}

// victimLocked picks the session to close to make room for a new one, or
// nil: the one idle longest outside a mail transaction and without AUTH,
// else (under stress) the slowest message transfer behind min_data_rate.
// l.mu is held.
func (l *Listener) victimLocked(now time.Time) (*guard, *smtp.SMTPError) {
	var idle, slow *guard
	var idleSince time.Time
	var slowRate float64
	minRate := float64(max(l.rc.MinDataRate, 1))
	_, stressed := l.stressed()
	for g := range l.conns {
		st := g.state()
		switch {
		case st.idle:
			if idle == nil || st.lastActive.Before(idleSince) {
				idle, idleSince = g, st.lastActive
			}
		case stressed && st.inData && now.Sub(st.dataStart) >= slowGrace:
			rate := float64(st.dataBytes) / now.Sub(st.dataStart).Seconds()
			if rate < minRate && (slow == nil || rate < slowRate) {
				slow, slowRate = g, rate
			}
		}
	}
	switch {
	case idle != nil:
		return idle, replyEvicted
	case slow != nil:
		return slow, replyEvictedSlow
	}
	return nil, nil
}

// guardState is what victimLocked needs to know of a session.
type guardState struct {
	idle       bool      // waiting for a command, outside a transaction, without AUTH
	lastActive time.Time // the last command line (or the connection)
	inData     bool
	dataStart  time.Time
	dataBytes  int64
}

func (g *guard) state() guardState {
	g.mu.Lock()
	st := guardState{lastActive: g.lastActive, dataStart: g.dataStart, dataBytes: g.dataBytes}
	ph, sess, closed, sasl, tls := g.phase, g.sess, g.closed, g.saslNext, g.inHandshake
	g.mu.Unlock()
	if closed {
		return guardState{}
	}
	st.inData = ph != phaseCommand
	if ph == phaseCommand && !sasl && !tls {
		st.idle = sess == nil || !sess.busy() && !sess.authenticated()
	}
	return st
}

// shortenWait makes the read the guard waits in (or its next one, with
// the deadline it has) end by limit.
func (g *guard) shortenWait(limit time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.readDL.IsZero() || g.readDL.After(limit) {
		g.readDL = limit
		g.raw.SetReadDeadline(limit)
	}
}

// evict closes a session chosen by victimLocked with r, unless it has
// closed meanwhile. Its place was freed already.
func (g *guard) evict(r *smtp.SMTPError, why string) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	closed := g.closed
	g.notes = append(g.notes, "reason", why)
	g.mu.Unlock()
	if closed {
		return
	}
	g.raw.SetWriteDeadline(time.Now().Add(time.Second))
	g.write([]byte(formatReply(r)), false) // a 421: write closes after it
	g.closeLocked()
}
