package scheduler

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/shadow"
	"github.com/waypost/waypost/internal/status"
	"github.com/waypost/waypost/internal/tracking"
)

// Shadow redundancy (package shadow, docs/design/shadow.md): recipients
// in the state queue.Shadowed wait in the queue "shadow:HUB", never
// attempted nor expired, until the heartbeat (shadow.Watcher) reports
// that HUB delivered its primary onward (Discharge) or lost it
// (Resubmit).

// shadowPrefix starts the name of a shadow queue: "shadow:HUB".
const shadowPrefix = "shadow:"

// Tracking events of shadows.
const (
	eventShadow    = "SHADOW"    // a relayed recipient is kept as a shadow
	eventDischarge = "DISCHARGE" // the holder delivered the primary onward
	eventResubmit  = "RESUBMIT"  // the shadow became a primary again
)

// keepShadow makes r, just relayed to the hub of hop with the result res,
// a shadow of the copy that hub queued, when the scheduler keeps shadows
// (Shadow) and the hub said its queue ID ("queued as ID"); a hub that did
// not leaves r relayed.
func (j *job) keepShadow(m *queue.Message, r *queue.Recipient, hop string, res delivery.Result) {
	if !j.s.Shadow || res.Class != delivery.Relayed {
		return
	}
	h, err := routing.ParseNextHop(hop)
	if err != nil || h.Kind != routing.HopHub || h.Server == "" {
		return
	}
	id := shadow.QueuedID(res.RemoteText)
	if id == "" {
		return
	}
	r.State, r.Shadow, r.ShadowID, r.ShadowSince = queue.Shadowed, h.Server, id, j.s.now().UTC().Round(0)
	j.note(tracking.Event{Event: eventShadow, ID: m.ID, Sender: m.From, Recipient: TrackedAs(r), NextHop: shadowPrefix + h.Server,
		Detail: "kept until " + h.Server + " delivers its copy " + id + " onward"})
}

// Shadows implements shadow.Holdings: the primaries this hub keeps
// shadows of, by holder, from the shadow queues of the index.
func (s *Scheduler) Shadows() map[string][]shadow.Held {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initIndex()
	out := map[string][]shadow.Held{}
	for name, g := range s.groups {
		holder, ok := strings.CutPrefix(name, shadowPrefix)
		if !ok {
			continue
		}
		at := map[string]int{}
		for e := range g.members {
			for i := range e.m.Recipients {
				r := &e.m.Recipients[i]
				if r.State != queue.Shadowed || r.Shadow != holder {
					continue
				}
				if k, ok := at[r.ShadowID]; ok {
					if r.ShadowSince.Before(out[holder][k].Since) {
						out[holder][k].Since = r.ShadowSince
					}
					continue
				}
				at[r.ShadowID] = len(out[holder])
				out[holder] = append(out[holder], shadow.Held{ID: r.ShadowID, Since: r.ShadowSince})
			}
		}
	}
	return out
}

// Discharge implements shadow.Holdings: the shadows of id on holder are
// relayed for good; a message with nothing else to do leaves the queue.
func (s *Scheduler) Discharge(holder, id string) {
	n := s.shadowChange(holder, id, func(j *job, m *queue.Message, r *queue.Recipient) {
		j.final(m, r, queue.Relayed, queue.Result{Class: queue.ClassRelayed, Status: status.OK, RemoteHost: holder,
			RemoteText: "shadow discharged: " + holder + " delivered its copy " + id + " onward"})
		j.events[len(j.events)-1].Event = eventDischarge
	})
	if n > 0 {
		s.Metrics.Shadow("discharged")
	}
}

// Resubmit implements shadow.Holdings: the shadows of id on holder are
// pending again and due now, routed anew (tracking RESUBMIT with reason).
func (s *Scheduler) Resubmit(holder, id, reason string) {
	n := s.shadowChange(holder, id, func(j *job, m *queue.Message, r *queue.Recipient) {
		r.State, r.Shadow, r.ShadowID, r.ShadowSince = queue.Pending, "", "", time.Time{}
		r.NextAttempt, r.NextHop = time.Time{}, ""
		j.note(tracking.Event{Event: eventResubmit, ID: m.ID, Sender: m.From, Recipient: TrackedAs(r), NextHop: shadowPrefix + holder, Detail: reason})
	})
	if n > 0 {
		s.Log.Warn("shadow resubmitted", "holder", holder, "primary", id, "recipients", n, "reason", reason)
		s.poke()
	}
}

// shadowChange applies change to every shadowed recipient of id on
// holder and records the result as an attempt does (job.commit). A
// message being processed is left for the next heartbeat. It returns
// how many recipients changed.
func (s *Scheduler) shadowChange(holder, id string, change func(j *job, m *queue.Message, r *queue.Recipient)) int {
	var ids []string
	s.mu.Lock()
	s.initIndex()
	if g := s.groups[shadowPrefix+holder]; g != nil {
		for e := range g.members {
			ids = append(ids, e.m.ID)
		}
	}
	s.mu.Unlock()
	total := 0
	for _, mid := range ids {
		e, _ := s.claim(mid)
		if e == nil {
			continue // gone, or busy: the next heartbeat sees it again
		}
		m := e.m.Clone()
		j := &job{s: s, arrival: m.Arrival}
		n := 0
		for i := range m.Recipients {
			if r := &m.Recipients[i]; r.State == queue.Shadowed && r.Shadow == holder && r.ShadowID == id {
				change(j, m, r)
				n++
			}
		}
		if n == 0 {
			s.unclaim(e)
			continue
		}
		total += n
		s.settle(e, j.commit(m, true))
	}
	return total
}

// Record returns the record of message id as the index holds it (shared:
// the index replaces a record, never changes one), or nil when id is not
// queued. It reads nothing from disk.
func (s *Scheduler) Record(id string) *queue.Message { return s.record(id) }

// Queued reports whether id is in the queue (a discharge query answers
// Pending for it).
func (s *Scheduler) Queued(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initIndex()
	return s.entries[strings.ToLower(id)] != nil
}

// Withdraw takes message id out of the queue again, right after it was
// queued, when the receiver refuses it after all (shadow_on_receive =
// "required" and no other hub took a copy): the sender was answered 451
// and sends it again. A delivery under way is waited for (up to 30s);
// what it delivered stays delivered, a duplicate the sender's retry makes.
func (s *Scheduler) Withdraw(ctx context.Context, id, reason string) error {
	e, err := s.claimWait(ctx, id, 30*time.Second)
	if errors.Is(err, queue.ErrNotFound) {
		return nil // delivered already: nothing to withdraw
	}
	if err != nil {
		return err
	}
	if err := s.Queue.Remove(id); err != nil && !errors.Is(err, queue.ErrNotFound) {
		s.unclaim(e)
		return err
	}
	s.settle(e, outcome{removed: true})
	s.TrackEvent(tracking.Event{Event: tracking.Remove, ID: id, Sender: e.m.From, Detail: reason})
	return nil
}

// actsOn reports whether an administrator's action applies to r: discard
// to shadows alone, every other action to pending recipients alone.
func actsOn(action string, r *queue.Recipient) bool {
	if action == "discard" {
		return r.State == queue.Shadowed
	}
	return r.State == queue.Pending
}

// Discard ends the picked shadows without waiting for their holder
// (`waypost queue discard shadow:HUB`): they are relayed for good, and a
// message with nothing else to do leaves the queue. Use it when the
// holder is known to have delivered them, or will never come back and
// the mail is to be given up (otherwise the heartbeat timeout delivers
// the shadows from here, which is what it is for).
func (s *Scheduler) Discard(args control.Select, actor string) (*control.Action, error) {
	return s.act("discard", args, actor, write, func(m *queue.Message, r *queue.Recipient, a *control.Action) (bool, string) {
		holder, id := r.Shadow, r.ShadowID
		r.State, r.Last = queue.Relayed, queue.Result{Class: queue.ClassRelayed, Status: status.OK, RemoteHost: holder,
			RemoteText: "shadow discarded by an administrator; " + holder + " held the primary " + id}
		return true, "shadow of " + id + " on " + holder + " discarded"
	})
}
