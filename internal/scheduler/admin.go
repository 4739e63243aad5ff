package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/metrics"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/status"
	"github.com/waypost/waypost/internal/tracking"
)

// Queue administration (`waypost queue`, docs/operations.md "Queue administration"):
// the queues of a hub are its pending recipients grouped by next hop, as
// the scheduler last routed them; hold, release and reroute are written
// to the message's record before they count (durable and CRC-checked like
// any other change), retry lives in memory until the attempt it makes due
// writes it (act), and every action is written to the tracking log with
// the actor.

// queueName is the queue a pending recipient waits in.
func queueName(r *queue.Recipient) string {
	if r.State == queue.Shadowed {
		return shadowPrefix + r.Shadow
	}
	if r.NextHop == "" {
		return "submission" // not routed yet (Exchange's name for it)
	}
	return r.NextHop
}

// recipientState is how a recipient of m is listed.
func recipientState(m *queue.Message, r *queue.Recipient) string {
	switch {
	case r.State == queue.Shadowed:
		return "shadow"
	case r.State != queue.Pending:
		return string(r.State)
	case m.Poison != "":
		return poisonQueue
	case r.Held:
		return "held"
	case r.Attempts > 0:
		return "retry"
	}
	return "ready"
}

// aggregate groups the pending recipients of msgs that sel picks (nil: all)
// into queues, sorted by name.
func aggregate(msgs []*queue.Message, sel *selector, now time.Time) []control.Queue {
	byName := map[string]*control.Queue{}
	seen := map[string]string{} // queue -> last message counted
	for _, m := range msgs {
		if sel != nil && !sel.message(m) {
			continue
		}
		for i := range m.Recipients {
			r := &m.Recipients[i]
			if !waiting(r) || sel != nil && !sel.rcpt(m, r) {
				continue
			}
			name := groupName(m, r)
			q := byName[name]
			if q == nil {
				q = &control.Queue{Queue: name, Kind: queueKind(name), Oldest: m.Arrival}
				byName[name] = q
			}
			if seen[name] != m.ID {
				seen[name] = m.ID
				q.Messages++
			}
			q.Recipients++
			if r.Held {
				q.Held++
			}
			account(q, m, r, now)
		}
	}
	out := make([]control.Queue, 0, len(byName))
	for _, q := range byName {
		out = append(out, *q)
	}
	return finish(out, now)
}

// account adds what a pending recipient r of m tells of its queue q
// besides the counts: the oldest arrival, the next retry, the last error.
func account(q *control.Queue, m *queue.Message, r *queue.Recipient, now time.Time) {
	if m.Arrival.Before(q.Oldest) {
		q.Oldest = m.Arrival
	}
	if !r.Held && m.Poison == "" && (q.NextRetry.IsZero() || r.NextAttempt.Before(q.NextRetry)) {
		q.NextRetry = r.NextAttempt
		if q.NextRetry.IsZero() {
			q.NextRetry = now // due now
		}
	}
	if r.Attempts > 0 && r.Last.Class == queue.ClassRetry && !r.LastAttempt.Before(q.LastTry) {
		q.LastTry, q.LastStatus, q.LastError = r.LastAttempt, r.Last.Status, lastError(r.Last)
	}
}

// finish sorts queues by name and sets their ages.
func finish(out []control.Queue, now time.Time) []control.Queue {
	for i := range out {
		out[i].OldestAge = control.Seconds(now.Sub(out[i].Oldest).Seconds())
	}
	slices.SortFunc(out, func(a, b control.Queue) int { return cmp.Compare(a.Queue, b.Queue) })
	return out
}

// summary is aggregate of the whole index, from its queues (index.go):
// the counts are kept as messages change; the rest is read from the
// messages of each queue, and kept until the index changes (an idle
// backlog of any length is listed without going through it).
func (s *Scheduler) summary(now time.Time) []control.Queue {
	dueNow := time.Unix(0, 0) // stands for now in the kept summary
	s.mu.Lock()
	s.initIndex()
	if !s.sum.valid || s.sum.version != s.version {
		qs := make([]control.Queue, 0, len(s.groups))
		for name, g := range s.groups {
			q := control.Queue{Queue: name, Kind: queueKind(name), Messages: len(g.members), Recipients: g.recipients, Held: g.held,
				Oldest: g.oldestArrival()}
			for e := range g.members {
				for i := range e.m.Recipients {
					if r := &e.m.Recipients[i]; waiting(r) && groupName(e.m, r) == name {
						account(&q, e.m, r, dueNow)
					}
				}
			}
			qs = append(qs, q)
		}
		s.sum.queues, s.sum.version, s.sum.valid = qs, s.version, true
	}
	out := slices.Clone(s.sum.queues)
	retry := map[string]time.Time{} // the hops in retry: their messages wait until then (hopretry.go)
	for name, h := range s.down {
		retry[name] = h.until
	}
	s.mu.Unlock()
	for i := range out {
		if out[i].NextRetry.Equal(dueNow) {
			out[i].NextRetry = now
		}
		if u, ok := retry[out[i].Queue]; ok && u.After(out[i].NextRetry) && !out[i].NextRetry.IsZero() {
			out[i].NextRetry = u
		}
	}
	return finish(out, now)
}

// queueKind is the kind of a queue, from its name: a next hop's kind, or
// "submission" or "poison".
func queueKind(name string) string {
	if strings.HasPrefix(name, shadowPrefix) {
		return "shadow"
	}
	if hop, err := routing.ParseNextHop(name); err == nil {
		return string(hop.Kind)
	}
	return name
}

func lastError(r queue.Result) string {
	s := r.RemoteText
	if r.RemoteHost != "" {
		s = r.RemoteHost + ": " + s
	}
	return s
}

// selector is a compiled control.Select.
type selector struct {
	ids                                   map[string]bool
	queue, sender, recipient, domain, typ string
	state                                 string
	before                                time.Time // arrived before this (OlderThan)
	empty                                 bool      // picks everything
}

func compileSelect(s control.Select, now time.Time) (*selector, error) {
	sel := &selector{queue: s.Queue, sender: strings.ToLower(s.Sender), recipient: strings.ToLower(s.Recipient),
		domain: strings.ToLower(strings.TrimPrefix(s.Domain, "@")), typ: strings.ToUpper(s.Type), state: strings.ToLower(s.State)}
	if s.NextHop != "" {
		if sel.queue != "" && sel.queue != s.NextHop {
			return nil, control.Errorf(control.CodeBadRequest, "give one queue: %q or %q", sel.queue, s.NextHop)
		}
		sel.queue = s.NextHop
	}
	if len(s.IDs) > 0 {
		sel.ids = map[string]bool{}
		for _, id := range s.IDs {
			sel.ids[strings.ToLower(id)] = true
		}
	}
	if sel.state != "" && !slices.Contains(control.States, sel.state) {
		return nil, control.Errorf(control.CodeBadRequest, "state %q: use one of %s", s.State, strings.Join(control.States, ", "))
	}
	if s.OlderThan != "" {
		d, err := time.ParseDuration(s.OlderThan)
		if err != nil || d < 0 {
			return nil, control.Errorf(control.CodeBadRequest, "older-than %q is not a duration such as 30m or 2h", s.OlderThan)
		}
		sel.before = now.Add(-d)
	}
	sel.empty = sel.ids == nil && sel.queue == "" && sel.sender == "" && sel.recipient == "" && sel.domain == "" &&
		sel.typ == "" && sel.state == "" && sel.before.IsZero()
	return sel, nil
}

func (s *selector) message(m *queue.Message) bool {
	return (s.ids == nil || s.ids[m.ID]) && (s.sender == "" || strings.Contains(strings.ToLower(m.From), s.sender)) &&
		(s.before.IsZero() || m.Arrival.Before(s.before))
}

func (s *selector) rcpt(m *queue.Message, r *queue.Recipient) bool {
	if s.queue != "" && groupName(m, r) != s.queue || s.typ != "" && r.Type != s.typ ||
		s.state != "" && recipientState(m, r) != s.state {
		return false
	}
	if s.recipient != "" && !strings.Contains(strings.ToLower(r.Address), s.recipient) && !strings.Contains(strings.ToLower(r.Written), s.recipient) {
		return false
	}
	if s.domain != "" {
		_, dom, ok := strings.Cut(strings.ToLower(r.Written), "@")
		if at := strings.LastIndexByte(r.Address, '@'); r.Type == "SMTP" && at >= 0 {
			dom, ok = strings.ToLower(r.Address[at+1:]), true
		}
		if !ok || strings.TrimSuffix(dom, ">") != s.domain {
			return false
		}
	}
	return true
}

// missingIDs fails when an ID asked for is not in the queue.
func (s *Scheduler) missingIDs(sel control.Select) error {
	var missing []string
	s.mu.Lock()
	s.initIndex()
	for _, id := range sel.IDs {
		if s.entries[strings.ToLower(id)] == nil {
			missing = append(missing, id)
		}
	}
	s.mu.Unlock()
	if len(missing) > 0 {
		return control.Errorf(control.CodeNotFound, "not in the queue: %s (delivered or removed meanwhile? \"waypost track --id ID\" tells)", strings.Join(missing, ", "))
	}
	return nil
}

// snapshot returns the records of the index that sel picks, by ID. The
// records are shared, not copied: the index replaces a record, it never
// changes one in place.
func (s *Scheduler) snapshot(sel *selector) []*queue.Message {
	s.mu.Lock()
	s.initIndex()
	var out []*queue.Message
	if sel.ids != nil {
		for id := range sel.ids {
			if e := s.entries[id]; e != nil && sel.message(e.m) {
				out = append(out, e.m)
			}
		}
	} else {
		out = make([]*queue.Message, 0, len(s.entries))
		for _, e := range s.entries {
			if sel.message(e.m) {
				out = append(out, e.m)
			}
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *queue.Message) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// List answers queue.list from the index: the summary of every queue
// (from the counts kept as things change, when nothing is filtered), or
// the queues or messages that args picks.
func (s *Scheduler) List(args control.Select) (*control.QueueList, error) {
	now := time.Now()
	sel, err := compileSelect(args, now)
	if err != nil {
		return nil, err
	}
	if err := s.missingIDs(args); err != nil {
		return nil, err
	}
	out := &control.QueueList{Server: s.Server, Now: now.UTC()}
	if !args.Messages {
		if sel.empty {
			out.Queues = s.summary(now)
		} else {
			out.Queues = aggregate(s.snapshot(sel), sel, now)
		}
		eng := s.Engine.Load()
		for i := range out.Queues {
			q := &out.Queues[i]
			hop, err := routing.ParseNextHop(q.Queue)
			switch {
			case err != nil:
			case hop.Kind == routing.HopConnector:
				for _, sc := range eng.Org().SendConnectors {
					if sc.Name == hop.Name {
						q.Delivery = sc.Delivery.Kind
					}
				}
			case hop.Kind == routing.HopMailbox:
				if srv := eng.Org().Server(hop.Server); srv != nil {
					q.Delivery = srv.MailboxDelivery.Kind // maildir or lmtp
				}
			}
		}
		return out, nil
	}
	out.Messages = []control.Message{}
	for _, m := range s.snapshot(sel) {
		cm := messageInfo(m, now, func(r *queue.Recipient) bool { return waiting(r) && sel.rcpt(m, r) })
		if len(cm.Recipients) > 0 {
			out.Messages = append(out.Messages, cm)
		}
	}
	return out, nil
}

// messageInfo describes m with the recipients that keep picks.
func messageInfo(m *queue.Message, now time.Time, keep func(*queue.Recipient) bool) control.Message {
	cm := control.Message{ID: m.ID, From: m.From, Arrival: m.Arrival, Age: control.Seconds(now.Sub(m.Arrival).Seconds()), Size: m.Size,
		ReceivedBy: m.ReceivedBy, Auth: m.Auth, EnvID: m.EnvID, Ret: m.Ret, Poison: m.Poison, Crashes: m.Crashes, Recipients: []control.Recipient{}}
	for i := range m.Recipients {
		r := &m.Recipients[i]
		if !keep(r) {
			continue
		}
		cr := control.Recipient{Written: r.Written, Type: r.Type, Address: r.Address, State: recipientState(m, r), NextHop: r.NextHop,
			Notify: r.Notify, Attempts: r.Attempts, LastAttempt: r.LastAttempt, LastClass: r.Last.Class, LastStatus: r.Last.Status,
			RemoteHost: r.Last.RemoteHost, LastError: r.Last.RemoteText, TLS: r.Last.TLS}
		if r.State == queue.Pending && !r.Held && m.Poison == "" {
			cr.NextAttempt = r.NextAttempt
			if cr.NextAttempt.IsZero() {
				cr.NextAttempt = now
			}
		}
		cm.Recipients = append(cm.Recipients, cr)
	}
	return cm
}

// act applies an action to the recipients sel picks: change returns
// whether it changed r (and may add moves to a). Each message is claimed
// (a message being delivered at that moment is left alone and said so)
// and changed in memory; its tracking events are written with actor once
// the change is in force. Releasing a poison message takes it out of the
// poison queue: every pending recipient is due now.
//
// How a change is made durable depends on the action (durable):
//   - write: each changed record is written with Put before its claim
//     ends (a hold must survive a crash: a held message delivered after
//     a restart is what the administrator asked not to happen). The
//     writes run adminWriters at a time, so that they share the folder
//     fsyncs of the queue's group commit and the disk's flushes
//     (docs/performance.md, "Backlog drain and queue administration").
//   - memoryOnly: nothing is written. The change only makes recipients
//     due now, and their attempt, moments later, writes the record with
//     it (Put of the whole record from memory, process.go). A crash
//     before that attempt brings back the record as it was, with its
//     earlier next-attempt time: the retry is lost, which is harmless (the
//     message is attempted on its old schedule), and the record on disk is
//     always a valid one. So a retry of the whole queue costs no disk
//     write at all.
func (s *Scheduler) act(action string, args control.Select, actor string, how durability, change func(m *queue.Message, r *queue.Recipient, a *control.Action) (bool, string)) (*control.Action, error) {
	now := time.Now()
	sel, err := compileSelect(args, now)
	if err != nil {
		return nil, err
	}
	if err := s.missingIDs(args); err != nil {
		return nil, err
	}
	a := &control.Action{Action: action, Messages: []string{}}
	held, busy, poison := 0, 0, 0
	w := &adminWrites{s: s, a: a, action: action}
	if how == write {
		w.start()
	}
	for _, lm := range s.snapshot(sel) {
		if w.failed() {
			break
		}
		e, free := s.claim(lm.ID)
		if e == nil {
			if !free {
				busy++
			}
			continue // removed meanwhile, or being delivered
		}
		old := e.m
		m := old.Clone()
		released := action == "release" && m.Poison != ""
		if m.Poison != "" && action != "release" && action != "hold" {
			poison++
			s.unclaim(e)
			continue
		}
		if released {
			m.Poison, m.Crashes = "", 0
		}
		c := change1{e: e, m: m, moves: &control.Action{}}
		heldHere := 0
		for i := range m.Recipients {
			r := &m.Recipients[i]
			if !actsOn(action, r) || !sel.rcpt(old, &old.Recipients[i]) {
				continue
			}
			ok, detail := false, ""
			if released {
				r.Held, r.NextAttempt = false, time.Time{}
				ok, detail = true, "released from the poison queue, due now"
			} else {
				ok, detail = change(m, r, c.moves)
			}
			if !ok {
				if r.Held {
					heldHere++
				}
				continue
			}
			c.n++
			c.events = append(c.events, tracking.Event{Event: strings.ToUpper(action), ID: m.ID, Sender: m.From, Recipient: TrackedAs(r),
				NextHop: r.NextHop, Detail: detail, Actor: actor})
		}
		held += heldHere
		if c.n == 0 {
			s.unclaim(e)
			continue
		}
		if how == write {
			w.queue <- c
			continue
		}
		s.amend(e, m)
		w.done(c)
	}
	err = w.wait()
	slices.Sort(a.Messages)
	if held > 0 && action != "hold" && action != "release" {
		a.Skipped = append(a.Skipped, fmt.Sprintf("%d held recipient(s) left alone: \"waypost queue release\" them first", held))
	}
	if poison > 0 {
		a.Skipped = append(a.Skipped, fmt.Sprintf("%d poison message(s) left alone: \"waypost queue release ID\" takes one out of the poison queue", poison))
	}
	if busy > 0 {
		a.Skipped = append(a.Skipped, fmt.Sprintf("%d message(s) being delivered at this moment left alone: run the command again when the delivery is over", busy))
	}
	if a.Recipients > 0 {
		s.Metrics.Admin(action)
		s.Log.Info("queue "+action, "actor", actor, "messages", len(a.Messages), "recipients", a.Recipients)
		s.poke()
	}
	return a, err
}

// retry makes the picked recipients due now and resets their backoff, so
// that a failure after it waits the first interval of the schedule again.
// It is not written to disk: the attempts it makes due write it (act).
func (s *Scheduler) Retry(args control.Select, actor string) (*control.Action, error) {
	a, err := s.act("retry", args, actor, memoryOnly, func(m *queue.Message, r *queue.Recipient, a *control.Action) (bool, string) {
		if r.Held {
			return false, ""
		}
		r.NextAttempt, r.BackoffFrom = time.Time{}, r.Attempts
		return true, fmt.Sprintf("due now, backoff reset after %d attempts", r.Attempts)
	})
	if err == nil {
		// A hop in retry is probed at once (hopretry.go): its messages go
		// as soon as one of them reaches the host.
		s.mu.Lock()
		s.probeNow()
		s.mu.Unlock()
		s.poke()
	}
	return a, err
}

// hold keeps the picked recipients from being attempted until released;
// the mark is in the record, so it survives a restart.
func (s *Scheduler) Hold(args control.Select, actor string) (*control.Action, error) {
	return s.act("hold", args, actor, write, func(m *queue.Message, r *queue.Recipient, a *control.Action) (bool, string) {
		if r.Held {
			return false, ""
		}
		r.Held = true
		return true, "held"
	})
}

// release makes held recipients due now.
func (s *Scheduler) Release(args control.Select, actor string) (*control.Action, error) {
	return s.act("release", args, actor, write, func(m *queue.Message, r *queue.Recipient, a *control.Action) (bool, string) {
		if !r.Held {
			return false, ""
		}
		r.Held, r.NextAttempt = false, time.Time{}
		return true, "released, due now"
	})
}

// reroute routes the picked recipients again with the configuration in
// force; those whose next hop changes are made due now (with a fresh
// backoff), and the scheduler moves them on its next pass.
func (s *Scheduler) Reroute(args control.Select, actor string) (*control.Action, error) {
	eng := s.Engine.Load()
	a, err := s.act("reroute", args, actor, write, func(m *queue.Message, r *queue.Recipient, a *control.Action) (bool, string) {
		if r.Held {
			return false, ""
		}
		to := s.routeNow(eng, r, m.Size)
		if to == r.NextHop || r.NextHop == "" {
			return false, "" // unchanged, or not routed yet (its first pass routes it)
		}
		a.Moves = append(a.Moves, control.Move{ID: m.ID, Recipient: TrackedAs(r), From: r.NextHop, To: orStatus(to, "(none: the next pass fails or expands it)")})
		r.NextAttempt, r.BackoffFrom = time.Time{}, r.Attempts
		return true, r.NextHop + " -> " + orStatus(to, "(none)")
	})
	if a != nil && len(a.Moves) > 0 {
		// Their records still name the old next hop until the next pass
		// routes them: a retry of that hop must not hold them back.
		s.mu.Lock()
		for _, mv := range a.Moves {
			if e := s.entries[mv.ID]; e != nil {
				e.rerouted, e.hopWait = true, time.Time{}
				if !e.busy {
					s.schedule(e)
				}
			}
		}
		s.mu.Unlock()
		s.poke()
	}
	return a, err
}

// routeNow is the next hop the scheduler would give r now (see process).
func (s *Scheduler) routeNow(eng *routing.Engine, r *queue.Recipient, size int64) string {
	d := eng.RouteAddress(s.Server, address.Address{Type: r.Type, Value: r.Address}, size, false)
	hop := s.hopOf(&d)
	if hop.Kind == routing.HopHub {
		for _, h := range d.Hubs {
			if r.NextHop == "hub:"+h {
				return r.NextHop // one of the equivalent hubs: stays
			}
		}
	}
	return hop.String()
}

// removeStatus is the status of recipients removed with a report: a
// permanent failure of the mail system (RFC 3463 X.3.0). Exchange's
// Remove-Message -WithNDR says "550 4.3.2 QUEUE.Admin; message deleted
// by administrative action"; the class here is 5, since the message will
// never be delivered.
const removeStatus = status.SystemPermanent

// remove deletes the picked messages: silently, or with a non-delivery
// report to the sender for the recipients still pending (as NOTIFY
// allows). A message whose delivery is under way is removed once that
// ends.
func (s *Scheduler) Remove(ctx context.Context, args control.Select, actor string) (*control.Action, error) {
	if len(args.IDs) == 0 {
		return nil, control.Errorf(control.CodeBadRequest, "name the messages to remove by queue ID (\"waypost queue list --messages\" shows them)")
	}
	if err := s.missingIDs(args); err != nil {
		return nil, err
	}
	a := &control.Action{Action: "remove", Messages: []string{}}
	for _, id := range args.IDs {
		id = strings.ToLower(id)
		n, err := s.removeOne(ctx, id, args.NDR, actor)
		if errors.Is(err, queue.ErrNotFound) {
			a.Skipped = append(a.Skipped, id+": left the queue meanwhile")
			continue
		}
		if err != nil {
			return a, err
		}
		a.Messages = append(a.Messages, id)
		a.Recipients += n
	}
	if len(a.Messages) > 0 {
		s.Metrics.Admin("remove")
		s.Log.Info("queue remove", "actor", actor, "messages", a.Messages, "ndr", args.NDR)
	}
	return a, nil
}

func (s *Scheduler) removeOne(ctx context.Context, id string, ndr bool, actor string) (int, error) {
	e, err := s.claimWait(ctx, id, 30*time.Second)
	if err != nil {
		return 0, err
	}
	m := e.m.Clone()
	pending := 0
	for _, r := range m.Recipients {
		if r.State == queue.Pending {
			pending++
		}
	}
	how := "deleted silently by an administrator"
	if ndr {
		how = "deleted by an administrator, with a non-delivery report to the sender"
	}
	ev := tracking.Event{Event: tracking.Remove, ID: id, Sender: m.From, Detail: fmt.Sprintf("%s; %d recipient(s) pending", how, pending), Actor: actor}
	if !ndr {
		s.discharged(m) // a holder of a shadow of it must not deliver it
		if err := s.Queue.Remove(id); err != nil && !errors.Is(err, queue.ErrNotFound) {
			s.unclaim(e)
			return 0, err
		}
		s.settle(e, outcome{removed: true})
		s.TrackEvent(ev)
		return pending, nil
	}
	// Fail what is pending, then the scheduler's own path queues the
	// report and removes the message; should that fail, the message stays
	// with every recipient final, and the scheduler tries again.
	j := &job{s: s, arrival: m.Arrival}
	for i := range m.Recipients {
		if r := &m.Recipients[i]; r.State == queue.Pending {
			r.Held = false
			j.final(m, r, queue.Failed, queue.Result{Class: queue.ClassFailed, Status: removeStatus, RemoteText: adminRemoval})
		}
	}
	m.Poison = ""
	s.TrackEvent(ev)
	s.settle(e, j.commit(m, true))
	return pending, nil
}

// adminRemoval is the diagnostic of recipients failed by `queue remove
// --ndr` (Exchange's words); reports explain it as such.
const adminRemoval = "QUEUE.Admin; message deleted by administrative action"

// NeedSelection refuses to act on the whole queue unless asked to (--all).
func NeedSelection(op string, sel control.Select) error {
	s, err := compileSelect(sel, time.Now())
	if err != nil {
		return err
	}
	if s.empty && !sel.All {
		return control.Errorf(control.CodeBadRequest, "%s: name a queue, message IDs or filters, or give --all for every queued message", op)
	}
	return nil
}

// Describe answers queue.show without the history: the message and
// every recipient, from the index.
func (s *Scheduler) Describe(id string) (*control.Message, error) {
	m := s.record(id)
	if m == nil {
		return nil, control.Errorf(control.CodeNotFound, "%s is not in the queue (delivered or removed? \"waypost track --id %s\" tells)", id, id)
	}
	cm := messageInfo(m, time.Now(), func(*queue.Recipient) bool { return true })
	return &cm, nil
}

// OpenContent opens the content of queued message id (queue.dump),
// without reading its record.
func (s *Scheduler) OpenContent(id string) (*queue.Content, error) {
	m := s.record(id)
	if m == nil {
		return nil, control.Errorf(control.CodeNotFound, "%s is not in the queue", id)
	}
	return s.Queue.OpenMessage(m)
}

// record returns the record of id in the index, nil when it is not there.
func (s *Scheduler) record(id string) *queue.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initIndex()
	if e := s.entries[strings.ToLower(id)]; e != nil {
		return e.m
	}
	return nil
}

// QueueStats is what the metrics collector reports of the queues, from
// the counts the index keeps (no scan, no disk; the oldest arrival is
// found again only when the oldest message of a queue has left it).
func (s *Scheduler) QueueStats() ([]metrics.QueueStat, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initIndex()
	out := make([]metrics.QueueStat, 0, len(s.groups))
	for name, g := range s.groups {
		out = append(out, metrics.QueueStat{Queue: name, Messages: len(g.members), Recipients: g.recipients, Held: g.held, Oldest: g.oldestArrival()})
	}
	return out, len(s.entries), nil
}
