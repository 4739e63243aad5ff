package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/metrics"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/report"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/tracking"
)

// Scheduler delivers what the queue holds. Call Run (or RunOnce) from one
// goroutine; it processes up to Workers messages at a time.
type Scheduler struct {
	Server  string
	Engine  *atomic.Pointer[routing.Engine]
	Queue   *queue.Store
	Mailbox *delivery.Maildir
	// Connector returns the agent of a send connector, or nil when there
	// is no such connector.
	Connector func(name string) delivery.Agent
	// Relay returns the agent that hands mail to the relay listener of
	// another hub, or nil when that hub cannot be reached (no relay
	// address, no hub secret).
	Relay    func(server string) delivery.Agent
	Track    *tracking.Log
	Log      *slog.Logger
	Now      func() time.Time
	Rand     func() float64 // jitter source for retries
	Interval time.Duration  // how often the queue is scanned when nothing wakes it
	Workers  int            // messages processed at once (default 16)

	Metrics *metrics.Metrics // nil: none

	wakeOnce sync.Once
	wake     chan struct{}
	fullScan atomic.Bool // the next wake-up is for the whole queue, not only what Add reserved

	slotsOnce sync.Once
	slots     chan struct{} // one per worker at work
	mu        sync.Mutex
	inFlight  map[string]bool // messages being processed, or claimed by an administrator (claim.go)
	reserved  map[string]bool // added by Add: the first attempt is recorded and not yet made
	workers   sync.WaitGroup
}

func (s *Scheduler) wakeChan() chan struct{} {
	s.wakeOnce.Do(func() { s.wake = make(chan struct{}, 1) })
	return s.wake
}

// Wake asks the scheduler to look at the whole queue now (after a retry
// by an administrator, a reload, or an Add of its own).
func (s *Scheduler) Wake() {
	s.fullScan.Store(true)
	s.poke()
}

// poke wakes the scheduler for the messages Add reserved only: a pass
// that reads those records, not every record in the queue.
func (s *Scheduler) poke() {
	select {
	case s.wakeChan() <- struct{}{}:
	default:
	}
}

// Add puts a new message in the queue with its first attempt already
// recorded (attempts 1, the next attempt a retry interval away), so that
// delivering it at once needs no second write of its record before the
// I/O. The reservation lives in memory only: after a restart the message
// waits for that next attempt, which is recorded as usual.
func (s *Scheduler) Add(env queue.Envelope, body io.Reader) (*queue.Message, error) {
	now := s.now()
	if env.Arrival.IsZero() {
		env.Arrival = now.UTC().Round(0)
	}
	org := s.Engine.Load().Org()
	expires := env.Arrival.Add(org.MessageExpiration)
	env.Recipients = slices.Clone(env.Recipients)
	for i := range env.Recipients {
		if r := &env.Recipients[i]; r.State == "" || r.State == queue.Pending {
			r.Attempts, r.LastAttempt = 1, now
			r.NextAttempt = queue.Schedule(org.Retry, 1, now, expires, s.rand)
		}
	}
	m, err := s.Queue.Add(env, body)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.reserved == nil {
		s.reserved = map[string]bool{}
	}
	s.reserved[m.ID] = true
	s.mu.Unlock()
	s.poke()
	return m, nil
}

// takeReservation reports whether id was added by Add and not processed
// since, and forgets it.
func (s *Scheduler) takeReservation(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reserved[id]
	delete(s.reserved, id)
	return r
}

func (s *Scheduler) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Scheduler) rand() float64 {
	if s.Rand == nil {
		return rand.Float64()
	}
	return s.Rand()
}

// Run scans the queue until ctx is done. A pass starts the messages that
// are due and not already being processed, without waiting for them: a
// slow delivery holds one worker, not the next pass. When ctx ends, Run
// waits for the deliveries under way; nothing is lost.
func (s *Scheduler) Run(ctx context.Context) {
	wake := s.wakeChan()
	if s.Interval == 0 {
		s.Interval = time.Second
	}
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	defer s.workers.Wait()
	full := true
	for {
		if full {
			s.dispatch(ctx)
		} else {
			s.dispatchFresh(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			full = true
		case <-wake:
			full = s.fullScan.Swap(false)
		}
	}
}

// RunOnce makes one pass over the queue and waits for it: every message
// with a recipient that is due is processed.
func (s *Scheduler) RunOnce(ctx context.Context) {
	s.dispatch(ctx)
	s.workers.Wait()
}

// dispatch starts processing every due message that is not in flight,
// up to Workers at a time (it waits for a free worker).
func (s *Scheduler) dispatch(ctx context.Context) {
	s.init()
	msgs, err := s.Queue.List()
	if err != nil {
		s.Log.Error("queue list", "err", err)
	}
	now := s.now()
	for _, m := range msgs {
		if ctx.Err() != nil || !s.start(ctx, m, now) {
			return
		}
	}
}

// dispatchFresh starts the messages Add reserved, reading only their
// records: with mail arriving fast, a pass per arrival over the whole
// queue would read every record again and again.
func (s *Scheduler) dispatchFresh(ctx context.Context) {
	s.init()
	s.mu.Lock()
	ids := make([]string, 0, len(s.reserved))
	for id := range s.reserved {
		if !s.inFlight[id] {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	slices.Sort(ids) // oldest first
	now := s.now()
	for _, id := range ids {
		m, err := s.Queue.Get(id)
		if err != nil {
			s.takeReservation(id) // gone (removed meanwhile) or unreadable: the full pass reports it
			continue
		}
		if ctx.Err() != nil || !s.start(ctx, m, now) {
			return
		}
	}
}

func (s *Scheduler) init() {
	s.slotsOnce.Do(func() {
		n := s.Workers
		if n <= 0 {
			n = 16
		}
		s.slots = make(chan struct{}, n)
		s.mu.Lock()
		if s.inFlight == nil { // claim.go may have made it
			s.inFlight = map[string]bool{}
		}
		s.mu.Unlock()
	})
}

// start processes m on a worker if it is due and not in flight, waiting
// for a free worker. It returns false when ctx ended meanwhile.
func (s *Scheduler) start(ctx context.Context, m *queue.Message, now time.Time) bool {
	if !s.due(m, now) {
		return true
	}
	s.mu.Lock()
	busy := s.inFlight[m.ID]
	s.inFlight[m.ID] = true
	s.mu.Unlock()
	if busy {
		return true
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		s.release(m.ID)
		return false
	}
	s.workers.Add(1)
	go func() {
		defer func() { <-s.slots; s.release(m.ID); s.workers.Done() }()
		if err := s.process(ctx, m); err != nil {
			s.Log.Error("processing queued message", "id", m.ID, "err", err)
		}
	}()
	return true
}

func (s *Scheduler) release(id string) {
	s.mu.Lock()
	delete(s.inFlight, id)
	s.mu.Unlock()
}

// due reports whether m needs processing at now: a pending recipient
// whose next attempt has come, a delay notice or expiry that is due, or
// every recipient final (it is waiting for its reports or removal).
func (s *Scheduler) due(m *queue.Message, now time.Time) bool {
	s.mu.Lock()
	fresh := s.reserved[m.ID]
	s.mu.Unlock()
	if fresh {
		return true
	}
	org := s.Engine.Load().Org()
	final, active := true, false
	for _, r := range m.Recipients {
		if r.State != queue.Pending {
			continue
		}
		final = false
		if r.Held {
			continue // never attempted, never expired, until released
		}
		active = true
		if !r.NextAttempt.After(now) || !r.DelayNotified && !now.Before(m.Arrival.Add(org.DelayNotification)) {
			return true
		}
	}
	return final || active && !now.Before(m.Arrival.Add(org.MessageExpiration))
}

// work is one recipient to deliver in this pass.
type work struct {
	index int
	rcpt  delivery.Recipient
	hop   string // the recipient's next hop, recorded with the result (a reserved first attempt wrote none before)
}

func (s *Scheduler) process(ctx context.Context, m *queue.Message) error {
	j := &job{s: s, arrival: m.Arrival}
	now := s.now()
	// A message just added by Add has its first attempt recorded: that
	// attempt is made now, and needs no write before it.
	fresh := s.takeReservation(m.ID)
	eng := s.Engine.Load()
	expires := m.Arrival.Add(eng.Org().MessageExpiration)
	var local []work
	remote := map[string][]work{}         // next hop -> its recipients
	agents := map[string]delivery.Agent{} // next hop -> its agent
	changed := false
	var delayed []report.Recipient
	delayAfter := m.Arrival.Add(eng.Org().DelayNotification)
	nRecipients := len(m.Recipients)
	err := j.update(m.ID, func(m *queue.Message) error {
		nRecipients = len(m.Recipients)
		local, changed, delayed, j.dirty = nil, false, nil, false
		clear(remote)
		clear(agents)
		for i := 0; i < len(m.Recipients); i++ {
			r := &m.Recipients[i]
			if r.State == queue.Pending && !r.Held && !r.DelayNotified && !now.Before(delayAfter) && now.Before(expires) {
				// Once, after delay_notification, when asked for (RFC 3461
				// NOTIFY=DELAY; Exchange's default, with no NOTIFY, is
				// failure and delay). Marked before the report is queued:
				// a crash in between loses a delay notice, never mail.
				r.DelayNotified, changed, j.dirty = true, true, true
				if n := strings.ToUpper(r.Notify); n == "" || strings.Contains(n, "DELAY") {
					delayed = append(delayed, report.Recipient{Written: r.Written, Type: r.Type, Address: r.Address, ORCPT: r.ORCPT,
						Status: orStatus(r.Last.Status, "4.4.7"), RemoteHost: r.Last.RemoteHost, RemoteText: r.Last.RemoteText, LastAttempt: r.LastAttempt})
				}
			}
			reserved := fresh && r.Attempts == 1 && r.Last.Class == ""
			if r.State != queue.Pending || r.Held || r.NextAttempt.After(now) && !reserved {
				continue // held: never attempted, never expired, until released
			}
			changed = true
			attempt := func() {
				if !reserved {
					s.attempt(r, now, expires)
					j.dirty = true
				}
			}
			if !now.Before(expires) {
				j.final(m, r, queue.Failed, expired(r.Last))
				continue
			}
			d := eng.RouteAddress(s.Server, address.Address{Type: r.Type, Value: r.Address}, m.Size, false)
			before := r.NextHop
			r.NextHop = nextHop(&d)
			hub := ""
			if remoteHub(&d, s.Server) {
				hub = NextHub(eng.Org(), &d, s.Server)
				r.NextHop = "hub:" + hub
			}
			if r.NextHop != before {
				j.routed(m, r, &d)
			}
			switch {
			case d.Outcome == routing.OutcomeNDR:
				j.final(m, r, queue.Failed, queue.Result{Class: queue.ClassFailed, Status: d.Status, RemoteText: ndrText(&d)})
			case d.Outcome == routing.OutcomeExpanded:
				j.final(m, r, queue.Expanded, queue.Result{Class: queue.ClassDelivered, Status: "2.0.0", RemoteText: "expanded"})
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
					r.Last = queue.Result{Class: queue.ClassRetry, Status: routing.StatusDirectoryDown, RemoteText: err.Error()}
					j.note(tracking.Event{Event: tracking.Defer, ID: m.ID, Sender: m.From, Recipient: TrackedAs(r), NextHop: r.NextHop, Status: r.Last.Status, Detail: r.Last.RemoteText})
					continue
				}
				if err != nil {
					j.final(m, r, queue.Failed, queue.Result{Class: queue.ClassFailed, Status: "5.1.1", RemoteText: err.Error()})
					continue
				}
				attempt()
				local = append(local, work{i, delivery.Recipient{Type: r.Type, Address: r.Address, Mailbox: d.Mailbox, Folder: folder}, r.NextHop})
			case d.Outcome == routing.OutcomeConnector && strings.EqualFold(d.SourceServer, s.Server) && s.Connector != nil && s.Connector(d.Connector) != nil:
				attempt()
				hop := "connector:" + d.Connector
				agents[hop] = s.Connector(d.Connector)
				typ, addr := destination(eng, s.Server, &d, m.Size)
				remote[hop] = append(remote[hop], work{i, delivery.Recipient{Type: typ, Address: addr, Notify: r.Notify, ORCPT: r.ORCPT}, r.NextHop})
			case hub != "" && hub != s.Server && s.Relay != nil && s.Relay(hub) != nil:
				// Another hub's mailbox or connector: hand it to the next
				// hub on the path, which routes again with its own scope.
				attempt()
				if agents[r.NextHop] == nil {
					agents[r.NextHop] = s.Relay(hub)
				}
				typ, addr := r.Type, r.Address
				if d.Outcome == routing.OutcomeMailbox && !strings.EqualFold(typ, "SMTP") {
					// X500 and other types cannot travel as IMCEA: name the
					// mailbox by its primary SMTP address.
					if ent := eng.Directory().Lookup(address.Address{Type: typ, Value: addr}); ent != nil && ent.PrimarySMTP() != "" {
						typ, addr = "SMTP", ent.PrimarySMTP()
					}
				}
				remote[r.NextHop] = append(remote[r.NextHop], work{i, delivery.Recipient{Type: typ, Address: addr, Notify: r.Notify, ORCPT: r.ORCPT}, r.NextHop})
			default:
				// Unreachable, or a hub that cannot be reached: wait and
				// route again later.
				attempt()
				j.dirty = true // the deferral itself is recorded
				r.Last = queue.Result{Class: queue.ClassRetry, Status: orStatus(d.Status, "4.4.0"), RemoteText: deferReason(&d)}
				j.note(tracking.Event{Event: tracking.Defer, ID: m.ID, Sender: m.From, Recipient: TrackedAs(r), NextHop: r.NextHop, Connector: d.Connector, Status: r.Last.Status, Detail: r.Last.RemoteText})
			}
		}
		if !changed {
			return errNothingDue
		}
		if !j.dirty && len(m.Recipients) == nRecipients {
			return errNoWrite // only reserved attempts: nothing to record before the I/O
		}
		return nil
	})
	if errors.Is(err, errNoWrite) {
		err = nil
	}
	if errors.Is(err, errNothingDue) {
		if m.Done() {
			// Every recipient is final but the message is still here: its
			// report or removal failed, or a crash came between them.
			return s.removeIfDone(m.ID)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if len(delayed) > 0 && m.From != "" {
		if err := s.notify(m, report.Report{Delay: true, WillRetryUntil: expires, Recipients: delayed}, "delay notification"); err != nil {
			s.Log.Error("queueing a delay notification", "id", m.ID, "err", err)
		}
	}
	if len(local) > 0 {
		j.deliver(ctx, m, s.Mailbox, local)
	}
	for hop, ws := range remote {
		j.deliver(ctx, m, agents[hop], ws)
	}
	if j.removed {
		return nil // the last delivery finished it
	}
	return s.removeIfDone(m.ID)
}

// attempt records an attempt before its I/O, so that a crash during the
// delivery cannot cause a hot retry loop: the next try is already
// scheduled.
func (s *Scheduler) attempt(r *queue.Recipient, now, expires time.Time) {
	r.Attempts++
	r.LastAttempt = now
	r.NextAttempt = queue.Schedule(s.Engine.Load().Org().Retry, r.Attempts-r.BackoffFrom, now, expires, s.rand)
}

var (
	errNothingDue = errors.New("nothing due")
	errNoWrite    = errors.New("nothing to write")
)

// final puts r in a final state and tracks it.
func (j *job) final(m *queue.Message, r *queue.Recipient, st queue.State, res queue.Result) {
	r.State, r.Last = st, res
	j.dirty = true
	ev := tracking.Deliver
	switch st {
	case queue.Failed:
		ev = tracking.Fail
	case queue.Expanded:
		ev = tracking.Expand
	}
	j.note(tracking.Event{Event: ev, ID: m.ID, Sender: m.From, Recipient: TrackedAs(r), NextHop: r.NextHop, Status: res.Status, Detail: res.RemoteText})
}

// deliver hands ws to agent and records the results.
func (j *job) deliver(ctx context.Context, m *queue.Message, agent delivery.Agent, ws []work) {
	msg := &delivery.Message{ID: m.ID, From: m.From, Arrival: m.Arrival, Size: m.Size, EnvID: m.EnvID, Ret: m.Ret,
		Open: func() (io.ReadCloser, error) { return j.s.Queue.OpenMessage(m) }}
	for _, w := range ws {
		msg.Recipients = append(msg.Recipients, w.rcpt)
	}
	results := agent.Deliver(ctx, msg)
	var succeeded []report.Recipient
	success := func(qm *queue.Message) error {
		if len(succeeded) == 0 || qm.From == "" {
			return nil
		}
		return j.s.notify(qm, report.Report{Success: true, Recipients: succeeded}, "success notification")
	}
	var reportErr error
	removed, err := j.finish(m.ID, func(qm *queue.Message) error {
		succeeded = succeeded[:0]
		for i, w := range ws {
			r := &qm.Recipients[w.index]
			r.NextHop = w.hop
			res := results[i]
			qr := queue.Result{Class: string(res.Class), Status: res.Status, RemoteHost: res.RemoteHost, RemoteText: orStatus(res.RemoteText, res.Text)}
			switch res.Class {
			case delivery.Delivered:
				j.final(qm, r, queue.Delivered, qr)
				if agent != delivery.Agent(j.s.Mailbox) {
					j.events[len(j.events)-1].Event = tracking.Send // handed to another server
				}
				if a := successAction(agent, j.s.Mailbox, res); a != "" && strings.Contains(strings.ToUpper(r.Notify), "SUCCESS") {
					succeeded = append(succeeded, report.Recipient{Written: r.Written, Type: r.Type, Address: r.Address, ORCPT: r.ORCPT,
						Status: qr.Status, RemoteHost: qr.RemoteHost, RemoteText: res.RemoteText, LastAttempt: r.LastAttempt, Action: a})
				}
			case delivery.Relayed:
				j.final(qm, r, queue.Relayed, qr)
			case delivery.Failed:
				j.final(qm, r, queue.Failed, qr)
			default:
				r.Last = qr
				j.note(tracking.Event{Event: tracking.Defer, ID: qm.ID, Sender: qm.From, Recipient: TrackedAs(r), NextHop: r.NextHop, Status: res.Status, Detail: orStatus(res.RemoteText, res.Text)})
			}
		}
		return nil
	}, func(qm *queue.Message) error {
		// Every recipient is final: the reports go into the queue before
		// the message leaves it (a crash in between sends them twice,
		// never not at all).
		if reportErr = success(qm); reportErr == nil {
			reportErr = j.s.bounce(qm)
			succeeded = nil // sent; not again below
		}
		return reportErr
	})
	if err != nil {
		// The deliveries happened but their results are not recorded: the
		// next pass delivers again (a duplicate, never a loss).
		j.s.Log.Error("recording delivery results", "id", m.ID, "err", err)
		return
	}
	if reportErr != nil {
		j.s.Log.Error("queueing reports; the message stays queued until they are", "id", m.ID, "err", reportErr)
	}
	if !removed {
		if err := success(m); err != nil {
			j.s.Log.Error("queueing a success notification", "id", m.ID, "err", err)
		}
	}
}

func (s *Scheduler) removeIfDone(id string) error {
	m, err := s.Queue.Get(id)
	if errors.Is(err, queue.ErrNotFound) {
		return nil // its last delivery finished it
	}
	if err != nil {
		return err
	}
	if !m.Done() {
		return nil
	}
	// The report goes into the queue before the message leaves it: a crash
	// in between sends the report twice, never not at all.
	if err := s.bounce(m); err != nil {
		return err
	}
	return s.Queue.Remove(id)
}

func (s *Scheduler) TrackEvent(e tracking.Event) {
	if s.Track != nil {
		if err := s.Track.Write(e); err != nil {
			s.Log.Warn("tracking log", "err", err)
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

// update is Queue.Update that writes the tracking events noted by f once
// the change is on disk (and drops them if it is not).
func (j *job) update(id string, f func(m *queue.Message) error) error {
	err := j.s.Queue.Update(id, func(m *queue.Message) error {
		j.events = j.events[:0] // f may run again
		return f(m)
	})
	if ok := err == nil || errors.Is(err, errNoWrite); ok && j.s.Track != nil {
		for _, e := range j.events {
			if werr := j.s.Track.Write(e); werr != nil {
				j.s.Log.Warn("tracking log", "err", werr)
			}
		}
	}
	if err == nil || errors.Is(err, errNoWrite) {
		for _, e := range j.events {
			j.s.observe(e, j.arrival)
		}
	}
	j.events = j.events[:0]
	return err
}

// finish is Queue.Finish that writes the tracking events noted by f once
// the results are on disk or the message is gone.
func (j *job) finish(id string, f, done func(m *queue.Message) error) (bool, error) {
	removed, err := j.s.Queue.Finish(id, func(m *queue.Message) error {
		j.events = j.events[:0] // f may run again
		return f(m)
	}, done)
	j.removed = j.removed || removed
	if err == nil {
		for _, e := range j.events {
			j.s.TrackEvent(e)
			j.s.observe(e, j.arrival)
		}
	}
	j.events = j.events[:0]
	return removed, err
}

// job is the processing of one message in one pass.
type job struct {
	s       *Scheduler
	events  []tracking.Event // of the Update under way, written once it is on disk
	dirty   bool             // the Update under way changed what must be on disk before delivering
	arrival time.Time        // of the message, for the latency of final outcomes
	removed bool             // a delivery finished the message and removed it
}

// note records a tracking event for the Update under way.
func (j *job) note(e tracking.Event) { j.events = append(j.events, e) }

// expired is the result of a recipient whose message expired: 4.4.7
// (Exchange's "Queue expired; Message expired"), keeping the server and
// reply of the last attempt so that the report says what kept failing.
func expired(last queue.Result) queue.Result {
	res := queue.Result{Class: queue.ClassFailed, Status: "4.4.7", RemoteHost: last.RemoteHost, RemoteText: "Queue expired; Message expired"}
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
