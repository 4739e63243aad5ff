package scheduler

import (
	"fmt"
	"time"

	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/status"
	"github.com/waypost/waypost/internal/tracking"
)

// recoverCrashed handles the messages that the in-flight markers of the
// last run named: it died while processing them. Each has its count of
// crashes raised; at PoisonThreshold it goes to the poison queue
// (Exchange's poison message queue), else it is due now, like every
// message that came due while the hub was down.
func (s *Scheduler) recoverCrashed(ids []string) {
	for _, id := range ids {
		s.mu.Lock()
		e := s.entries[id]
		if e == nil || e.busy {
			s.mu.Unlock()
			continue // finished before the crash, only the marker was left
		}
		e.busy = true
		s.schedule(e)
		s.mu.Unlock()
		out := s.crashed(e.m, "the hub stopped (crash or kill) while processing it", true)
		s.settle(e, out)
	}
}

// crashed counts a crash while m was being processed (of the process, or
// a panic of its worker; m is the record from before) and writes it:
// poison at PoisonThreshold, else the pending recipients wait for their
// next retry (a panic) or are due now (a restart).
func (s *Scheduler) crashed(m *queue.Message, reason string, restart bool) outcome {
	m = m.Clone()
	m.Crashes++
	now := s.now()
	if m.Crashes >= PoisonThreshold {
		m.Poison = fmt.Sprintf("in the poison queue after %d consecutive crashes while processing it; the last: %s", m.Crashes, reason)
		s.Log.Warn("poison message: held until an administrator releases or removes it (\"waypost queue release "+m.ID+"\")",
			"id", m.ID, "crashes", m.Crashes, "reason", reason)
		s.TrackEvent(tracking.Event{Event: eventPoison, ID: m.ID, Sender: m.From, Detail: m.Poison})
	} else {
		s.Log.Warn("a crash while processing a message; it is tried again, and made poison if it happens again", "id", m.ID, "crashes", m.Crashes, "reason", reason)
		if restart {
			// What was under way when the process died is due now.
			for i := range m.Recipients {
				if r := &m.Recipients[i]; r.State == queue.Pending && !r.Held {
					r.NextAttempt = time.Time{}
				}
			}
		} else {
			org := s.Engine.Load().Org()
			expires := m.Arrival.Add(org.MessageExpiration)
			for i := range m.Recipients {
				if r := &m.Recipients[i]; r.State == queue.Pending && !r.Held && !r.NextAttempt.After(now) {
					s.attempt(r, now, expires)
					r.Last = queue.Result{Class: queue.ClassRetry, Status: status.SystemTransient, RemoteText: "internal error while processing the message (" + reason + ")"}
				}
			}
		}
	}
	if err := s.Queue.Put(m); err != nil {
		s.storageFailure("recording a crash while processing a message", m.ID, err)
		return outcome{m: m, dirty: true}
	}
	return outcome{m: m}
}

// recordRecovered writes a RECEIVE event for each message of the start-up
// scan that was never attempted: the process may have died between making
// it durable and writing its RECEIVE events, and every delivered message's
// history must start with one. After a clean stop (CleanStart) there is
// no such message: every Add of the last run had written its events.
func (s *Scheduler) recordRecovered() {
	if s.Track == nil || s.CleanStart {
		return
	}
	var events []tracking.Event
	s.mu.Lock()
	for _, e := range s.entries {
		if !e.recovered || attempted(e.m) {
			continue
		}
		for i := range e.m.Recipients {
			r := &e.m.Recipients[i]
			events = append(events, tracking.Event{Event: tracking.Receive, ID: e.m.ID, Sender: e.m.From, Recipient: TrackedAs(r),
				Detail: "recovered after a crash; via " + orStatus(e.m.ReceivedBy, "unknown")})
		}
	}
	s.mu.Unlock()
	for _, ev := range events {
		s.TrackEvent(ev)
	}
}

// attempted reports whether anything was recorded of m since it was
// queued.
func attempted(m *queue.Message) bool {
	for _, r := range m.Recipients {
		if r.Attempts > 0 || r.State != queue.Pending || r.Held || r.NextHop != "" {
			return true
		}
	}
	return false
}
