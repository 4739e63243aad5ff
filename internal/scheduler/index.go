package scheduler

import (
	"container/heap"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/queue"
)

// The index is every queued message's record (envelope and recipients,
// never the content), kept in memory from the start-up scan of the queue
// and changed only by the scheduler: Add indexes the Message that the
// queue returned, and each change of state is written from memory
// (queue.Store.Put). Postfix's qmgr and Exchange's queues keep their
// schedule the same way; nothing lists the queue folder or decodes a
// record after start-up.
//
// Each message has one due time, the earliest of: a pending recipient's
// NextAttempt, its delay notification, its expiry (held recipients and
// poison messages are never due; a message whose recipients are all final
// is due now, for its reports and removal). A heap (container/heap) of
// due times orders the messages; one timer armed for its head replaces
// the scan of the whole queue.

// entry is one message in the index.
type entry struct {
	m         *queue.Message // the record as it stands (written, or dirty); replaced, never changed in place
	due       time.Time      // when it needs processing; zero: never
	notBefore time.Time      // a write or removal failed: not again before this
	hopWait   time.Time      // waiting for its next hops, in retry (hopretry.go)
	rerouted  bool           // moved to another next hop by an administrator: not held for the old one
	hidx      int            // position in the heap, -1 when not in it
	busy      bool           // being processed, or claimed by an administrator
	dirty     bool           // m is newer than the record on disk (a write failed)
	recovered bool           // found by the start-up scan (not added since)
	groups    []string       // the queues its pending recipients are counted in
}

// dueHeap orders entries by due time (container/heap).
type dueHeap []*entry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}
func (h *dueHeap) Push(x any) {
	e := x.(*entry)
	e.hidx = len(*h)
	*h = append(*h, e)
}
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.hidx = -1
	return e
}

// group is one queue of the index: the pending recipients with one next
// hop (or "poison"), kept as messages come, change and go, so that the
// queue summaries and the metrics read them without a scan.
type group struct {
	members    map[*entry]int // message -> its pending recipients here
	recipients int
	held       int
	oldest     time.Time // earliest arrival of a member, unless stale
	stale      bool      // the oldest member left: oldest is found again when read
}

// oldestArrival is the earliest arrival of g's members.
func (g *group) oldestArrival() time.Time {
	if g.stale {
		g.oldest, g.stale = time.Time{}, false
		for e := range g.members {
			if g.oldest.IsZero() || e.m.Arrival.Before(g.oldest) {
				g.oldest = e.m.Arrival
			}
		}
	}
	return g.oldest
}

// dueTime is when m needs processing under org, or zero for never.
func dueTime(m *queue.Message, org *config.Org) time.Time {
	if m.Poison != "" {
		return time.Time{}
	}
	var due time.Time
	have := false
	earlier := func(t time.Time) {
		if t.IsZero() {
			t = time.Unix(0, 0) // as soon as possible
		}
		if !have || t.Before(due) {
			due, have = t, true
		}
	}
	final, active := true, false
	for i := range m.Recipients {
		r := &m.Recipients[i]
		if r.State == queue.Shadowed {
			final = false // kept, never attempted nor expired: the heartbeat discharges or resubmits it
			continue
		}
		if r.State != queue.Pending {
			continue
		}
		final = false
		if r.Held {
			continue
		}
		active = true
		earlier(r.NextAttempt)
		if !r.DelayNotified {
			earlier(m.Arrival.Add(org.DelayNotification))
		}
	}
	if final {
		return time.Unix(0, 0) // now: its reports and removal are due
	}
	if !active {
		return time.Time{} // every pending recipient held
	}
	earlier(m.Arrival.Add(org.MessageExpiration))
	return due
}

// The functions below run with s.mu held.

// index adds m to the index, or replaces the record of its entry.
func (s *Scheduler) index(m *queue.Message) *entry {
	e := s.entries[m.ID]
	if e == nil {
		e = &entry{hidx: -1}
		s.entries[m.ID] = e
	} else {
		s.ungroup(e)
	}
	e.m = m
	s.group(e)
	s.schedule(e)
	return e
}

// drop takes e out of the index.
func (s *Scheduler) drop(e *entry) {
	s.ungroup(e)
	if e.hidx >= 0 {
		heap.Remove(&s.heap, e.hidx)
	}
	delete(s.entries, e.m.ID)
}

// schedule computes e's due time and puts it in the heap where it
// belongs (out of it while busy or never due).
func (s *Scheduler) schedule(e *entry) {
	e.due = dueTime(e.m, s.Engine.Load().Org())
	switch {
	case e.dirty && (e.due.IsZero() || e.notBefore.Before(e.due)):
		e.due = e.notBefore // its record is to be written again then
	case !e.due.IsZero() && e.notBefore.After(e.due):
		e.due = e.notBefore // its reports or removal failed: not again before
	}
	if !e.dirty && !e.due.IsZero() && e.hopWait.After(e.due) {
		// Recipients wait for next hops in retry (hopretry.go); its
		// reports, and its other recipients' attempts, do not.
		e.due = e.hopWait
		for _, t := range []time.Time{reportTime(e.m, s.Engine.Load().Org()), laterAttempt(e.m, s.now())} {
			if !t.IsZero() && t.Before(e.due) {
				e.due = t
			}
		}
	}
	switch {
	case e.busy || e.due.IsZero():
		if e.hidx >= 0 {
			heap.Remove(&s.heap, e.hidx)
		}
	case e.hidx >= 0:
		heap.Fix(&s.heap, e.hidx)
	default:
		heap.Push(&s.heap, e)
	}
}

// rescheduleAll computes every due time again: after a reload, whose
// retry, delay and expiry settings may differ.
func (s *Scheduler) rescheduleAll() {
	for _, e := range s.entries {
		s.schedule(e)
	}
}

// waiting reports whether r is in a queue: pending, or kept as a shadow.
func waiting(r *queue.Recipient) bool {
	return r.State == queue.Pending || r.State == queue.Shadowed
}

// groupName is the queue a waiting recipient of m is counted in.
func groupName(m *queue.Message, r *queue.Recipient) string {
	if r.State == queue.Shadowed {
		return queueName(r) // a shadow is never poison: it is never attempted
	}
	if m.Poison != "" {
		return poisonQueue
	}
	return queueName(r)
}

func (s *Scheduler) group(e *entry) {
	s.version++
	e.groups = e.groups[:0]
	for i := range e.m.Recipients {
		r := &e.m.Recipients[i]
		if !waiting(r) {
			continue
		}
		name := groupName(e.m, r)
		g := s.groups[name]
		if g == nil {
			g = &group{members: map[*entry]int{}}
			s.groups[name] = g
		}
		if g.members[e] == 0 {
			e.groups = append(e.groups, name)
			if !g.stale && (g.oldest.IsZero() || e.m.Arrival.Before(g.oldest)) {
				g.oldest = e.m.Arrival
			}
		}
		g.members[e]++
		g.recipients++
		if r.Held {
			g.held++
		}
	}
}

func (s *Scheduler) ungroup(e *entry) {
	s.version++
	for i := range e.m.Recipients {
		r := &e.m.Recipients[i]
		if !waiting(r) {
			continue
		}
		g := s.groups[groupName(e.m, r)]
		if g == nil {
			continue
		}
		g.recipients--
		if r.Held {
			g.held--
		}
		if g.members[e]--; g.members[e] <= 0 {
			delete(g.members, e)
			if !e.m.Arrival.After(g.oldest) {
				g.stale = true
			}
		}
	}
	for _, name := range e.groups {
		if g := s.groups[name]; g != nil && len(g.members) == 0 {
			delete(s.groups, name)
		}
	}
	e.groups = e.groups[:0]
}
