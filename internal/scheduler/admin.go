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
	"github.com/waypost/waypost/internal/tracking"
)

// Queue administration (`waypost queue`, docs/operations.md "Queue administration"):
// the queues of a hub are its pending recipients grouped by next hop, as
// the scheduler last routed them; every action is an Update of the
// message's record (so it is durable and CRC-checked like any other
// change) and is written to the tracking log with the actor.

// queueName is the queue a pending recipient waits in.
func queueName(r *queue.Recipient) string {
	if r.NextHop == "" {
		return "submission" // not routed yet (Exchange's name for it)
	}
	return r.NextHop
}

// recipientState is how a recipient is listed.
func recipientState(r *queue.Recipient) string {
	switch {
	case r.State != queue.Pending:
		return string(r.State)
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
			if r.State != queue.Pending || sel != nil && !sel.rcpt(r) {
				continue
			}
			name := queueName(r)
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
			if m.Arrival.Before(q.Oldest) {
				q.Oldest = m.Arrival
			}
			if r.Held {
				q.Held++
			} else if q.NextRetry.IsZero() || r.NextAttempt.Before(q.NextRetry) {
				q.NextRetry = r.NextAttempt
				if q.NextRetry.IsZero() {
					q.NextRetry = now // due now
				}
			}
			if r.Attempts > 0 && r.Last.Class == queue.ClassRetry && !r.LastAttempt.Before(q.LastTry) {
				q.LastTry, q.LastStatus, q.LastError = r.LastAttempt, r.Last.Status, lastError(r.Last)
			}
		}
	}
	out := make([]control.Queue, 0, len(byName))
	for _, q := range byName {
		q.OldestAge = control.Seconds(now.Sub(q.Oldest).Seconds())
		out = append(out, *q)
	}
	slices.SortFunc(out, func(a, b control.Queue) int { return cmp.Compare(a.Queue, b.Queue) })
	return out
}

// queueKind is the kind of a queue, from its name.
func queueKind(name string) string {
	kind, _, _ := strings.Cut(name, ":")
	return kind
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

func (s *selector) rcpt(r *queue.Recipient) bool {
	if s.queue != "" && queueName(r) != s.queue || s.typ != "" && r.Type != s.typ ||
		s.state != "" && recipientState(r) != s.state {
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
func missingIDs(sel control.Select, msgs []*queue.Message) error {
	var missing []string
	for _, id := range sel.IDs {
		if !slices.ContainsFunc(msgs, func(m *queue.Message) bool { return m.ID == strings.ToLower(id) }) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return control.Errorf(control.CodeNotFound, "not in the queue: %s (delivered or removed meanwhile? \"waypost track --id ID\" tells)", strings.Join(missing, ", "))
	}
	return nil
}

// listQueue answers queue.list.
func (s *Scheduler) List(args control.Select) (*control.QueueList, error) {
	now := time.Now()
	sel, err := compileSelect(args, now)
	if err != nil {
		return nil, err
	}
	msgs, lerr := s.Queue.List()
	if lerr != nil {
		s.Log.Warn("queue list: records left out", "err", lerr)
	}
	if err := missingIDs(args, msgs); err != nil {
		return nil, err
	}
	out := &control.QueueList{Server: s.Server, Now: now.UTC()}
	if !args.Messages {
		out.Queues = aggregate(msgs, sel, now)
		eng := s.Engine.Load()
		for i := range out.Queues {
			q := &out.Queues[i]
			if q.Kind == "connector" {
				name, _, _ := strings.Cut(strings.TrimPrefix(q.Queue, "connector:"), "@")
				for _, sc := range eng.Org().SendConnectors {
					if sc.Name == name {
						q.Delivery = sc.Delivery.Kind
					}
				}
			}
		}
		return out, nil
	}
	out.Messages = []control.Message{}
	for _, m := range msgs {
		if !sel.message(m) {
			continue
		}
		cm := messageInfo(m, now, func(r *queue.Recipient) bool { return r.State == queue.Pending && sel.rcpt(r) })
		if len(cm.Recipients) > 0 {
			out.Messages = append(out.Messages, cm)
		}
	}
	return out, nil
}

// messageInfo describes m with the recipients that keep picks.
func messageInfo(m *queue.Message, now time.Time, keep func(*queue.Recipient) bool) control.Message {
	cm := control.Message{ID: m.ID, From: m.From, Arrival: m.Arrival, Age: control.Seconds(now.Sub(m.Arrival).Seconds()), Size: m.Size,
		ReceivedBy: m.ReceivedBy, Auth: m.Auth, EnvID: m.EnvID, Ret: m.Ret, Recipients: []control.Recipient{}}
	for i := range m.Recipients {
		r := &m.Recipients[i]
		if !keep(r) {
			continue
		}
		cr := control.Recipient{Written: r.Written, Type: r.Type, Address: r.Address, State: recipientState(r), NextHop: r.NextHop,
			Notify: r.Notify, Attempts: r.Attempts, LastAttempt: r.LastAttempt, LastClass: r.Last.Class, LastStatus: r.Last.Status,
			RemoteHost: r.Last.RemoteHost, LastError: r.Last.RemoteText}
		if r.State == queue.Pending && !r.Held {
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
// whether it changed r (and may add to skipped). Each message is one
// durable Update; its tracking events are written with actor once it is
// on disk.
func (s *Scheduler) act(action string, args control.Select, actor string, change func(m *queue.Message, r *queue.Recipient, a *control.Action) (bool, string)) (*control.Action, error) {
	now := time.Now()
	sel, err := compileSelect(args, now)
	if err != nil {
		return nil, err
	}
	msgs, lerr := s.Queue.List()
	if lerr != nil {
		s.Log.Warn("queue "+action+": records left out", "err", lerr)
	}
	if err := missingIDs(args, msgs); err != nil {
		return nil, err
	}
	a := &control.Action{Action: action, Messages: []string{}}
	held := 0
	for _, lm := range msgs {
		if !sel.message(lm) {
			continue
		}
		var events []tracking.Event
		n, heldHere := 0, 0
		movesBefore := len(a.Moves)
		err := s.Queue.Update(lm.ID, func(m *queue.Message) error {
			for i := range m.Recipients {
				r := &m.Recipients[i]
				if r.State != queue.Pending || !sel.rcpt(r) {
					continue
				}
				ok, detail := change(m, r, a)
				if !ok {
					if r.Held {
						heldHere++
					}
					continue
				}
				n++
				events = append(events, tracking.Event{Event: strings.ToUpper(action), ID: m.ID, Sender: m.From, Recipient: TrackedAs(r),
					NextHop: r.NextHop, Detail: detail, Actor: actor})
			}
			if n == 0 {
				return errNothingDue // nothing to write
			}
			return nil
		})
		if err != nil {
			a.Moves = a.Moves[:movesBefore] // not written
		}
		switch {
		case errors.Is(err, errNothingDue):
			held += heldHere
			continue
		case errors.Is(err, queue.ErrNotFound):
			continue // delivered meanwhile
		case err != nil:
			return a, fmt.Errorf("%s %s: %w", action, lm.ID, err)
		}
		held += heldHere
		a.Messages = append(a.Messages, lm.ID)
		a.Recipients += n
		for _, e := range events {
			s.TrackEvent(e)
		}
	}
	if held > 0 && action != "hold" && action != "release" {
		a.Skipped = append(a.Skipped, fmt.Sprintf("%d held recipient(s) left alone: \"waypost queue release\" them first", held))
	}
	if a.Recipients > 0 {
		s.Metrics.Admin(action)
		s.Log.Info("queue "+action, "actor", actor, "messages", len(a.Messages), "recipients", a.Recipients)
		s.Wake()
	}
	return a, nil
}

// retry makes the picked recipients due now and resets their backoff, so
// that a failure after it waits the first interval of the schedule again.
func (s *Scheduler) Retry(args control.Select, actor string) (*control.Action, error) {
	return s.act("retry", args, actor, func(m *queue.Message, r *queue.Recipient, a *control.Action) (bool, string) {
		if r.Held {
			return false, ""
		}
		r.NextAttempt, r.BackoffFrom = time.Time{}, r.Attempts
		return true, fmt.Sprintf("due now, backoff reset after %d attempts", r.Attempts)
	})
}

// hold keeps the picked recipients from being attempted until released;
// the mark is in the record, so it survives a restart.
func (s *Scheduler) Hold(args control.Select, actor string) (*control.Action, error) {
	return s.act("hold", args, actor, func(m *queue.Message, r *queue.Recipient, a *control.Action) (bool, string) {
		if r.Held {
			return false, ""
		}
		r.Held = true
		return true, "held"
	})
}

// release makes held recipients due now.
func (s *Scheduler) Release(args control.Select, actor string) (*control.Action, error) {
	return s.act("release", args, actor, func(m *queue.Message, r *queue.Recipient, a *control.Action) (bool, string) {
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
	return s.act("reroute", args, actor, func(m *queue.Message, r *queue.Recipient, a *control.Action) (bool, string) {
		if r.Held {
			return false, ""
		}
		to := s.hopOf(eng, r, m.Size)
		if to == r.NextHop || r.NextHop == "" {
			return false, "" // unchanged, or not routed yet (its first pass routes it)
		}
		a.Moves = append(a.Moves, control.Move{ID: m.ID, Recipient: TrackedAs(r), From: r.NextHop, To: orStatus(to, "(none: the next pass fails or expands it)")})
		r.NextAttempt, r.BackoffFrom = time.Time{}, r.Attempts
		return true, r.NextHop + " -> " + orStatus(to, "(none)")
	})
}

// hopOf is the next hop the scheduler would give r now (see process).
func (s *Scheduler) hopOf(eng *routing.Engine, r *queue.Recipient, size int64) string {
	d := eng.RouteAddress(s.Server, address.Address{Type: r.Type, Value: r.Address}, size, false)
	if remoteHub(&d, s.Server) {
		return "hub:" + NextHub(eng.Org(), &d, s.Server)
	}
	return nextHop(&d)
}

// removeStatus is the status of recipients removed with a report: a
// permanent failure of the mail system (RFC 3463 X.3.0). Exchange's
// Remove-Message -WithNDR says "550 4.3.2 QUEUE.Admin; message deleted
// by administrative action"; the class here is 5, since the message will
// never be delivered.
const removeStatus = "5.3.0"

// remove deletes the picked messages: silently, or with a non-delivery
// report to the sender for the recipients still pending (as NOTIFY
// allows). A message whose delivery is under way is removed once that
// ends.
func (s *Scheduler) Remove(ctx context.Context, args control.Select, actor string) (*control.Action, error) {
	if len(args.IDs) == 0 {
		return nil, control.Errorf(control.CodeBadRequest, "name the messages to remove by queue ID (\"waypost queue list --messages\" shows them)")
	}
	msgs, lerr := s.Queue.List()
	if lerr != nil {
		s.Log.Warn("queue remove: records left out", "err", lerr)
	}
	if err := missingIDs(args, msgs); err != nil {
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
	if err := s.claimWait(ctx, id, 30*time.Second); err != nil {
		return 0, err
	}
	defer s.unclaim(id)
	m, err := s.Queue.Get(id)
	if err != nil {
		return 0, err
	}
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
		if err := s.Queue.Remove(id); err != nil {
			return 0, err
		}
		s.TrackEvent(ev)
		return pending, nil
	}
	// Fail what is pending (durably, with FAIL events), then let the
	// scheduler's own path queue the report and remove the message: a
	// crash in between leaves a message whose recipients are all final,
	// which the next pass reports and removes.
	j := &job{s: s, arrival: m.Arrival}
	err = j.update(id, func(m *queue.Message) error {
		for i := range m.Recipients {
			if r := &m.Recipients[i]; r.State == queue.Pending {
				r.Held = false
				j.final(m, r, queue.Failed, queue.Result{Class: queue.ClassFailed, Status: removeStatus,
					RemoteText: adminRemoval})
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.TrackEvent(ev)
	return pending, s.removeIfDone(id)
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
// every recipient.
func (s *Scheduler) Describe(id string) (*control.Message, error) {
	m, err := s.Queue.Get(id)
	if errors.Is(err, queue.ErrNotFound) {
		return nil, control.Errorf(control.CodeNotFound, "%s is not in the queue (delivered or removed? \"waypost track --id %s\" tells)", id, id)
	}
	if err != nil {
		return nil, err
	}
	cm := messageInfo(m, time.Now(), func(*queue.Recipient) bool { return true })
	return &cm, nil
}

// QueueStats is what the metrics collector reports of the queues.
func (s *Scheduler) QueueStats() ([]metrics.QueueStat, int, error) {
	msgs, err := s.Queue.List()
	if err != nil {
		s.Log.Warn("metrics: reading the queue", "err", err)
	}
	qs := aggregate(msgs, nil, time.Now())
	out := make([]metrics.QueueStat, 0, len(qs))
	for _, q := range qs {
		out = append(out, metrics.QueueStat{Queue: q.Queue, Messages: q.Messages, Recipients: q.Recipients, Held: q.Held, Oldest: q.Oldest})
	}
	return out, len(msgs), err
}
