package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/report"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/status"
	"github.com/waypost/waypost/internal/tracking"
)

// work is one recipient to deliver in this pass.
type work struct {
	index int
	rcpt  delivery.Recipient
	hop   string // the recipient's next hop, recorded with the result
}

// process makes the attempts of m (a copy of the index's record) that
// are due, and records the outcome once, after the I/O: the new record
// written from memory (queue.Store.Put), or the message removed when every
// recipient is final and its reports are queued. Nothing is written
// before the I/O: a crash during it leaves the message's in-flight marker
// behind, and the next start attempts it again at once (or, the second
// time, makes it poison; recover.go). dirty says that m's record is not on
// disk yet (diskfull.go).
func (s *Scheduler) process(ctx context.Context, m *queue.Message, dirty bool) outcome {
	j := &job{s: s, arrival: m.Arrival, reached: map[string]bool{}}
	now := s.now()
	eng := s.Engine.Load()
	expires := m.Arrival.Add(eng.Org().MessageExpiration)
	var local []work
	remote := map[string][]work{}         // next hop -> its recipients
	agents := map[string]delivery.Agent{} // next hop -> its agent
	var hops []string                     // in the order met
	changed := dirty || m.Crashes > 0     // an attempt that ends normally ends the count of crashes
	m.Crashes = 0
	var delayed []report.Recipient
	delayAfter := m.Arrival.Add(eng.Org().DelayNotification)
	for i := 0; i < len(m.Recipients); i++ {
		r := &m.Recipients[i]
		if r.State == queue.Pending && !r.Held && !r.DelayNotified && !now.Before(delayAfter) && now.Before(expires) {
			// Once, after delay_notification, when asked for (RFC 3461
			// NOTIFY=DELAY; Exchange's default, with no NOTIFY, is
			// failure and delay). Recorded with the attempt's results:
			// a crash in between sends the notice twice, never loses mail.
			r.DelayNotified, changed = true, true
			if n := strings.ToUpper(r.Notify); n == "" || strings.Contains(n, "DELAY") {
				delayed = append(delayed, report.Recipient{Written: r.Written, Type: r.Type, Address: r.Address, ORCPT: r.ORCPT,
					Status: orStatus(r.Last.Status, status.Expired), RemoteHost: r.Last.RemoteHost, RemoteText: r.Last.RemoteText, LastAttempt: r.LastAttempt})
			}
		}
		if r.State != queue.Pending || r.Held {
			continue // held: never attempted, never expired, until released
		}
		if !now.Before(expires) {
			// Whenever its next attempt: a reload may have made
			// message_expiration shorter.
			changed = true
			j.final(m, r, queue.Failed, expired(r.Last))
			continue
		}
		if r.NextAttempt.After(now) {
			continue
		}
		wasChanged := changed
		changed = true
		attempt := func() { s.attempt(r, now, expires) }
		d := eng.RouteAddress(s.Server, address.Address{Type: r.Type, Value: r.Address}, m.Size, false)
		before := r.NextHop
		hop := s.hopOf(&d)
		var relay *hubRelay // the hubs to try, this message's choice first
		if hop.Kind == routing.HopHub && len(d.Hubs) > 0 {
			if relay = j.relayTo(d.Hubs); relay != nil {
				hop.Server = relay.hubs[0]
			}
		}
		r.NextHop = hop.String()
		if r.NextHop != before {
			j.routed(m, r, &d)
		}
		switch {
		case d.Outcome == routing.OutcomeNDR:
			j.final(m, r, queue.Failed, queue.Result{Class: queue.ClassFailed, Status: d.Status, RemoteText: ndrText(&d)})
		case d.Outcome == routing.OutcomeExpanded:
			j.final(m, r, queue.Expanded, queue.Result{Class: queue.ClassDelivered, Status: status.OK, RemoteText: "expanded"})
			have := newRecipientSet(eng, m)
			for _, mem := range d.Members {
				if mem.Type == "" || !have.add(mem.Type, mem.Address) {
					continue // each recipient once per message; bad member syntax has no type
				}
				m.Recipients = append(m.Recipients, queue.Recipient{Written: mem.Recipient, Type: mem.Type, Address: mem.Address, Notify: r.Notify, State: queue.Pending})
			}
		case d.Outcome == routing.OutcomeMailbox && strings.EqualFold(d.Server, s.Server):
			typ, addr := destination(eng, s.Server, &d, m.Size)
			folder, err := s.folder(eng, &queue.Recipient{Type: typ, Address: addr})
			if errors.Is(err, directory.ErrUnavailable) {
				s.attempt(r, now, expires)
				r.Last = queue.Result{Class: queue.ClassRetry, Status: status.DirectoryDown, RemoteText: err.Error()}
				j.note(tracking.Event{Event: tracking.Defer, ID: m.ID, Sender: m.From, Recipient: TrackedAs(r), NextHop: r.NextHop, Status: r.Last.Status, Detail: r.Last.RemoteText})
				continue
			}
			if err != nil {
				j.final(m, r, queue.Failed, queue.Result{Class: queue.ClassFailed, Status: status.BadMailbox, RemoteText: err.Error()})
				continue
			}
			attempt()
			local = append(local, work{i, delivery.Recipient{Type: r.Type, Address: r.Address, Mailbox: d.Mailbox, Folder: folder}, r.NextHop})
		case d.Outcome == routing.OutcomeConnector && strings.EqualFold(d.SourceServer, s.Server) && s.Connector != nil && s.Connector(d.Connector) != nil:
			if until, wait := s.hopInRetry(r.NextHop, m.ID); wait {
				// Its next hop is in retry: not attempted, nothing counted
				// (hopretry.go); written only if its route changed.
				changed = wasChanged || r.NextHop != before
				if j.hopWait.IsZero() || until.Before(j.hopWait) {
					j.hopWait = until
				}
				continue
			}
			attempt()
			if agents[r.NextHop] == nil {
				agents[r.NextHop] = s.Connector(d.Connector)
				hops = append(hops, r.NextHop)
			}
			typ, addr := destination(eng, s.Server, &d, m.Size)
			remote[r.NextHop] = append(remote[r.NextHop], work{i, delivery.Recipient{Type: typ, Address: addr, Notify: r.Notify, ORCPT: r.ORCPT}, r.NextHop})
		case relay != nil:
			// Another hub's mailbox or connector: hand it to the next
			// hub on the path, which routes again with its own scope;
			// one of several equivalent hubs (balance.go).
			attempt()
			key := "hub:" + strings.Join(relay.hubs, ",")
			if agents[key] == nil {
				agents[key] = relay
				hops = append(hops, key)
			}
			typ, addr := r.Type, r.Address
			if d.Outcome == routing.OutcomeMailbox && !strings.EqualFold(typ, "SMTP") {
				// X500 and other types cannot travel as IMCEA: name the
				// mailbox by its primary SMTP address.
				if ent := eng.Directory().Lookup(address.Address{Type: typ, Value: addr}); ent != nil && ent.PrimarySMTP() != "" {
					typ, addr = "SMTP", ent.PrimarySMTP()
				}
			}
			remote[key] = append(remote[key], work{i, delivery.Recipient{Type: typ, Address: addr, Notify: r.Notify, ORCPT: r.ORCPT}, r.NextHop})
		default:
			// Unreachable, or a hub that cannot be reached: wait and
			// route again later.
			attempt()
			r.Last = queue.Result{Class: queue.ClassRetry, Status: orStatus(d.Status, status.RoutingTransient), RemoteText: deferReason(&d)}
			j.note(tracking.Event{Event: tracking.Defer, ID: m.ID, Sender: m.From, Recipient: TrackedAs(r), NextHop: r.NextHop, Connector: d.Connector, Status: r.Last.Status, Detail: r.Last.RemoteText})
		}
	}
	if len(delayed) > 0 && m.From != "" {
		if err := s.notify(m, report.Report{Delay: true, WillRetryUntil: expires, Recipients: delayed}, "delay notification"); err != nil {
			s.Log.Error("queueing a delay notification", "id", m.ID, "err", err)
		}
	}
	if len(local) > 0 {
		j.deliver(ctx, m, s.Mailbox, local)
	}
	for _, hop := range hops {
		res := j.deliver(ctx, m, agents[hop], remote[hop])
		if _, relay := agents[hop].(*hubRelay); !relay {
			j.reached[hop] = !delivery.Unreached(res) // a connector's hop (hopretry.go)
		}
	}
	out := j.commit(m, changed)
	out.reached, out.hopWait = j.reached, j.hopWait
	return out
}

// attempt counts an attempt made at now and schedules the next one
// (exchange-semantics.md section 5.3), in memory: it is written with the
// attempt's results.
func (s *Scheduler) attempt(r *queue.Recipient, now, expires time.Time) {
	r.Attempts++
	r.LastAttempt = now
	r.NextAttempt = queue.Schedule(s.Engine.Load().Org().Retry, r.Attempts-r.BackoffFrom, now, expires, s.rand)
}

// final puts r in a final state and tracks it.
func (j *job) final(m *queue.Message, r *queue.Recipient, st queue.State, res queue.Result) {
	r.State, r.Last = st, res
	ev := tracking.Deliver
	switch st {
	case queue.Failed:
		ev = tracking.Fail
	case queue.Expanded:
		ev = tracking.Expand
	}
	j.note(tracking.Event{Event: ev, ID: m.ID, Sender: m.From, Recipient: TrackedAs(r), NextHop: r.NextHop, Status: res.Status, Detail: res.RemoteText})
}

// deliver hands ws to agent, applies the results to m and returns them.
func (j *job) deliver(ctx context.Context, m *queue.Message, agent delivery.Agent, ws []work) []delivery.Result {
	msg := &delivery.Message{ID: m.ID, From: m.From, Arrival: m.Arrival, Size: m.Size, EnvID: m.EnvID, Ret: m.Ret,
		Open: func() (io.ReadCloser, error) { return j.s.Queue.OpenMessage(m) }}
	for _, w := range ws {
		msg.Recipients = append(msg.Recipients, w.rcpt)
	}
	results := agent.Deliver(ctx, msg)
	if len(results) != len(ws) {
		panic(fmt.Sprintf("delivery agent %T gave %d results for %d recipients", agent, len(results), len(ws)))
	}
	missed := ""            // hubs skipped on the way, for the tracking log
	events := len(j.events) // this delivery's events start here
	for i, w := range ws {
		r := &m.Recipients[w.index]
		r.NextHop = w.hop
		if hr, ok := agent.(*hubRelay); ok {
			if hr.took != "" {
				r.NextHop = "hub:" + hr.took // queued there now, or handed to it
			}
			missed = hr.missedText()
		}
		res := results[i]
		qr := queue.Result{Class: string(res.Class), Status: res.Status, RemoteHost: res.RemoteHost, RemoteText: orStatus(res.RemoteText, res.Text), TLS: res.TLS}
		switch res.Class {
		case delivery.Delivered, delivery.Relayed:
			st, ev := queue.Delivered, tracking.Deliver
			if res.Class == delivery.Relayed {
				st, ev = queue.Relayed, tracking.Send // handed to another system
			}
			j.final(m, r, st, qr)
			j.events[len(j.events)-1].Event = ev
			j.keepShadow(m, r, r.NextHop, res) // the hub that took it (balance.go)
			if a := successAction(res); a != "" && strings.Contains(strings.ToUpper(r.Notify), "SUCCESS") {
				j.succeeded = append(j.succeeded, report.Recipient{Written: r.Written, Type: r.Type, Address: r.Address, ORCPT: r.ORCPT,
					Status: qr.Status, RemoteHost: qr.RemoteHost, RemoteText: res.RemoteText, LastAttempt: r.LastAttempt, Action: a})
			}
		case delivery.Failed:
			j.final(m, r, queue.Failed, qr)
		default:
			r.Last = qr
			j.note(tracking.Event{Event: tracking.Defer, ID: m.ID, Sender: m.From, Recipient: TrackedAs(r), NextHop: r.NextHop, Status: res.Status, Detail: orStatus(res.RemoteText, res.Text)})
		}
	}
	if missed != "" {
		for k := events; k < len(j.events); k++ {
			j.events[k].Detail = missed + "; " + j.events[k].Detail
		}
	}
	return results
}

// commit records what processing m came to, once, after the I/O: when
// every recipient is final, its reports go into the queue and then the
// message leaves it (a crash in between sends the reports twice, never
// not at all); otherwise its record is written from memory, when changed.
// A disk that refuses the write leaves the state in memory, to be written
// again later (diskfull.go): the deliveries are not made again.
//
// The tracking events of the attempts are written first: a crash after
// the queue's record and before the tracking log would leave a delivery
// that the history never shows; in this order, a crash in between makes
// the attempt again (a Maildir delivery finds its copy) and tracks it
// twice, never not at all.
func (j *job) commit(m *queue.Message, changed bool) outcome {
	s := j.s
	j.flush()      // the attempts were made: the tracking log says so, whatever the queue's record
	later := false // try again in storageRetry, not at once
	if m.Done() {
		err := j.success(m)
		if err == nil {
			err = s.bounce(m)
		}
		if err == nil {
			s.discharged(m)
			if err = s.Queue.RemoveMessage(m); errors.Is(err, queue.ErrNotFound) {
				err = nil
			}
		}
		if err == nil {
			return outcome{removed: true}
		}
		s.storageFailure("queueing the reports of a finished message or removing it; it stays queued until they are", m.ID, err)
		later, changed = true, true
	} else if err := j.success(m); err != nil {
		s.Log.Error("queueing a success notification", "id", m.ID, "err", err)
	}
	if !changed {
		return outcome{}
	}
	err := s.Queue.Put(m)
	if errors.Is(err, queue.ErrNotFound) {
		return outcome{removed: true} // removed by an administrator meanwhile
	}
	if err != nil {
		s.storageFailure("writing the results of an attempt; they are kept in memory and written again later", m.ID, err)
		return outcome{m: m, dirty: true}
	}
	return outcome{m: m, later: later}
}

// discharged tells the hub that m is about to leave the queue, done.
func (s *Scheduler) discharged(m *queue.Message) {
	if s.Discharged != nil {
		s.Discharged(m)
	}
}

// success queues the success notification of the recipients delivered
// by this job that asked for one (RFC 3461 NOTIFY=SUCCESS), once.
func (j *job) success(m *queue.Message) error {
	if len(j.succeeded) == 0 || m.From == "" {
		return nil
	}
	if err := j.s.notify(m, report.Report{Success: true, Recipients: j.succeeded}, "success notification"); err != nil {
		return err
	}
	j.succeeded = nil
	return nil
}

// flush writes the tracking events of the job and counts their outcomes.
func (j *job) flush() {
	for _, e := range j.events {
		j.s.TrackEvent(e)
		j.s.observe(e, j.arrival)
	}
	j.events = j.events[:0]
}

// TrackEvent writes e to the tracking log; a failure (a full disk) is
// logged at most once every 10 seconds (diskfull.go).
func (s *Scheduler) TrackEvent(e tracking.Event) {
	if s.Track != nil {
		if err := s.Track.Write(e); err != nil {
			s.storageFailure("writing the tracking log", e.ID, err)
		}
	}
}

// folder finds the Maildir folder of the mailbox r resolves to.
func (s *Scheduler) folder(eng *routing.Engine, r *queue.Recipient) (string, error) {
	ent, err := eng.Directory().Find(address.Address{Type: r.Type, Value: r.Address})
	if err != nil {
		return "", fmt.Errorf("mailbox for %s:%s: %w", r.Type, r.Address, err)
	}
	if ent == nil || ent.PrimarySMTP() == "" {
		return "", fmt.Errorf("RESOLVER.ADR.RecipNotFound; mailbox for %s:%s has no SMTP address", r.Type, r.Address)
	}
	return delivery.Folder(ent.PrimarySMTP()), nil
}

// job is the processing of one message.
type job struct {
	s         *Scheduler
	events    []tracking.Event     // written once the outcome is recorded
	succeeded []report.Recipient   // delivered with NOTIFY=SUCCESS, their notification not yet queued
	arrival   time.Time            // of the message, for the latency of final outcomes
	relays    map[string]*hubRelay // this message's choice of hubs, by routing's list (balance.go)
	reached   map[string]bool      // connector hops tried: was the host reached (hopretry.go)
	hopWait   time.Time            // recipients left waiting for a hop in retry: look again then
}

// note records a tracking event for the Update under way.
func (j *job) note(e tracking.Event) { j.events = append(j.events, e) }

// expired is the result of a recipient whose message expired: 4.4.7
// (Exchange's "Queue expired; Message expired"), keeping the server and
// reply of the last attempt so that the report says what kept failing.
func expired(last queue.Result) queue.Result {
	res := queue.Result{Class: queue.ClassFailed, Status: status.Expired, RemoteHost: last.RemoteHost, RemoteText: "Queue expired; Message expired"}
	if last.RemoteText != "" {
		res.RemoteText += "; last attempt: " + last.RemoteText
	}
	return res
}

func orStatus(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TrackedAs is how the tracking log names a recipient in every event:
// its address type and address, as the queue keeps them ("SMTP:bob@x",
// "FAX:+1 555 0100"), so that one search finds all of its events.
func TrackedAs(r *queue.Recipient) string { return r.Type + ":" + r.Address }
