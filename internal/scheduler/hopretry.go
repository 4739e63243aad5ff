package scheduler

import (
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/queue"
)

// A send connector's next hop that could not be reached is in retry, as
// Exchange puts a delivery queue in Retry after a connection failure and
// Postfix's queue manager marks a destination dead (docs/operations.md,
// "A next hop in retry"). Its messages are then not attempted one by one:
// each would fail the same way, and a day's backlog of a partner that is
// down would keep the hub busy failing connections and writing their
// results. While a hop is in retry its due messages wait, in memory only
// (no attempt counted, nothing written), until the hop's retry time, the
// organization's glitch_retry_interval after the failure (or the retry
// schedule's first interval, when shorter); then one of them is attempted
// (the probe). If it reaches the host, whatever the reply, the hop is out
// of retry and every waiting message is due at once; if not, the hop
// waits another interval. `waypost queue retry` makes a probe go at once,
// and `waypost queue reroute` lets the messages it moves go.
//
// Only connector hops take part: a hub relay has its own back-off among
// equivalent hubs (balance.go), and the mailbox agent is local. A message
// goes when any of its queues is not in retry, or is due for its delay
// notification or expiry: those never wait for a hop.

// hopRetry is one next hop in retry.
type hopRetry struct {
	until time.Time // when a probe may go; zero: now
	probe string    // the ID of the message being tried as the probe, or ""
}

// The functions below run with s.mu held.

// holdForHop says whether e, due at now, is to wait for its next hops
// rather than go: every queue of it is a hop in retry, before its retry
// time or with a probe under way. Then it sets e.hopWait to when to look
// again. When e goes, it becomes the probe of each of its hops whose
// retry time has come.
func (s *Scheduler) holdForHop(e *entry, now time.Time) bool {
	e.hopWait = time.Time{}
	if e.rerouted {
		e.rerouted = false // its queue is about to change: the old hop's retry is not its own
		return false
	}
	if len(s.down) == 0 || len(e.groups) == 0 || !now.Before(reportTime(e.m, s.Engine.Load().Org())) {
		return false
	}
	var wait time.Time
	for _, g := range e.groups {
		h := s.down[g]
		if h == nil || !s.probing(h, e.m.ID) && !now.Before(h.until) {
			// A queue not in retry, or one whose probe this can be.
			for _, g := range e.groups {
				if h := s.down[g]; h != nil && !s.probing(h, e.m.ID) && !now.Before(h.until) {
					h.probe = e.m.ID
				}
			}
			return false
		}
		at := h.until
		if s.probing(h, e.m.ID) || !at.After(now) {
			at = now.Add(s.glitchInterval()) // the probe's result wakes it sooner
		}
		if wait.IsZero() || at.Before(wait) {
			wait = at
		}
	}
	e.hopWait = wait
	return true
}

// hopResults applies what a job learned of the hops it tried: reached
// (true) takes a hop out of retry and makes its waiting messages due;
// unreached puts it in retry until now plus the glitch interval. A probe
// that did not try its hop (rerouted, held meanwhile) leaves the hop's
// retry time as it was, for another message to probe.
func (s *Scheduler) hopResults(id string, reached map[string]bool, now time.Time) {
	for hop, ok := range reached {
		switch {
		case ok && s.down[hop] != nil:
			delete(s.down, hop)
			s.releaseHop(hop)
		case !ok:
			if s.down == nil {
				s.down = map[string]*hopRetry{}
			}
			s.down[hop] = &hopRetry{until: now.Add(s.glitchInterval())}
		}
	}
	for _, h := range s.down {
		if h.probe == id {
			h.probe = ""
		}
	}
}

// releaseHop makes the messages waiting for hop due again.
func (s *Scheduler) releaseHop(hop string) {
	g := s.groups[hop]
	if g == nil {
		return
	}
	for e := range g.members {
		if !e.hopWait.IsZero() {
			e.hopWait = time.Time{}
			if !e.busy {
				s.schedule(e)
			}
		}
	}
}

// probeNow makes every hop in retry probe at once and its waiting messages
// due: `queue retry`.
func (s *Scheduler) probeNow() {
	for hop, h := range s.down {
		h.until = time.Time{}
		s.releaseHop(hop)
	}
}

// hopInRetry says whether hop is in retry, for a message other than id
// that is about to try it: process leaves such a recipient waiting.
func (s *Scheduler) hopInRetry(hop, id string) (until time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.down[hop]
	if h == nil || h.probe == id {
		return time.Time{}, false
	}
	now := s.now()
	if !s.probing(h, id) && !now.Before(h.until) {
		h.probe = id // its retry time has come: this message is the probe
		return time.Time{}, false
	}
	if s.probing(h, id) || !h.until.After(now) {
		return now.Add(s.glitchInterval()), true
	}
	return h.until, true
}

// probing says whether another message than id is probing h now: one
// that claimed it and is being processed. A claim whose message waits
// for a worker, or left the queue, holds nobody back.
func (s *Scheduler) probing(h *hopRetry, id string) bool {
	if h.probe == "" || h.probe == id {
		return false
	}
	e := s.entries[h.probe]
	return e != nil && e.busy
}

// glitchInterval is how long a hop stays in retry: the organization's
// glitch_retry_interval, or its retry schedule's first interval when that
// is shorter (a hop is never left alone longer than a message would be);
// never under a second (the configuration's floor), so that a message
// held back is never due again at once.
func (s *Scheduler) glitchInterval() time.Duration {
	org := s.Engine.Load().Org()
	return max(min(org.GlitchRetryInterval, org.Retry.GlitchInterval), time.Second)
}

// laterAttempt is the earliest next attempt after now of a pending
// recipient of m that is not held, or zero: the recipients that wait for a
// hop were due, so these are the others.
func laterAttempt(m *queue.Message, now time.Time) time.Time {
	var at time.Time
	for i := range m.Recipients {
		r := &m.Recipients[i]
		if r.State == queue.Pending && !r.Held && r.NextAttempt.After(now) && (at.IsZero() || r.NextAttempt.Before(at)) {
			at = r.NextAttempt
		}
	}
	return at
}

// reportTime is when m is due for its delay notification (while one is
// owed) or its expiry, whichever comes first: those never wait for a hop.
func reportTime(m *queue.Message, org *config.Org) time.Time {
	at := m.Arrival.Add(org.MessageExpiration)
	for i := range m.Recipients {
		if r := &m.Recipients[i]; r.State == queue.Pending && !r.Held && !r.DelayNotified {
			if d := m.Arrival.Add(org.DelayNotification); d.Before(at) {
				at = d
			}
			break
		}
	}
	return at
}
