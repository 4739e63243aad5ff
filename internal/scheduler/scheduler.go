package scheduler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/metrics"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/tracking"
)

// Scheduler delivers what the queue holds, from its in-memory index
// (index.go). Give it the queue's messages with Load (the queue's
// start-up scan, queue.Options.Scan) before Run; call Run (or RunOnce)
// from one goroutine; it processes up to Workers messages at a time.
type Scheduler struct {
	Server string
	Engine *atomic.Pointer[routing.Engine]
	Queue  *queue.Store
	// Mailbox delivers to the mailboxes of this server: a Maildir, or
	// LMTP to a mail store ([[server]] mailbox_delivery).
	Mailbox delivery.Agent
	// Connector returns the agent of a send connector, or nil when there
	// is no such connector.
	Connector func(name string) delivery.Agent
	// Relay returns the agent that hands mail to the relay listener of
	// another hub, or nil when that hub cannot be reached (no relay
	// address, no hub secret).
	Relay   func(server string) delivery.Agent
	Track   *tracking.Log
	Log     *slog.Logger
	Now     func() time.Time
	Rand    func() float64 // jitter source for retries
	Workers int            // messages processed at once (default DefaultWorkers)

	Metrics *metrics.Metrics // nil: none

	// Shadow keeps a shadow of what is relayed to another hub until that
	// hub delivers it onward (shadow.go; package shadow).
	Shadow bool
	// Discharged, when set, is called with a message about to leave the
	// queue because it is done or removed, before it leaves:
	// the hub remembers it to answer the discharge queries of the hubs
	// that keep shadows of it (shadow.Discharged).
	Discharged func(m *queue.Message)
	// CleanStart says the last run stopped cleanly (queue
	// Recovery.Clean): every message it queued has its RECEIVE events,
	// and none are written for the never-attempted messages found at
	// start (recover.go).
	CleanStart bool

	hubs balancer // load sharing among equivalent hubs (balance.go)

	wakeOnce sync.Once
	wake     chan struct{}

	startOnce sync.Once
	started   atomic.Bool    // start has run: what the last run left is handled
	slots     chan int       // free worker slots (their in-flight markers)
	markers   *queue.Markers // nil when they could not be opened
	workers   sync.WaitGroup
	storage   limiter // the log of storage failures (diskfull.go)

	mu      sync.Mutex
	entries map[string]*entry // the index, by message ID
	heap    dueHeap
	groups  map[string]*group    // the queues, by name
	down    map[string]*hopRetry // the connector hops in retry, by queue name (hopretry.go)
	version uint64               // of the queues: counts their changes
	sum     struct {             // the last summary, while version is the same (admin.go)
		queues  []control.Queue
		version uint64
		valid   bool
	}
}

// DefaultWorkers is how many messages a scheduler processes at once when
// Workers is not set. The SMTP connection pool of a hub keeps as many idle
// connections per destination (delivery.Pool.MaxIdle), so that every
// worker finds one.
const DefaultWorkers = 16

// workerCount is the number of messages processed at once.
func (s *Scheduler) workerCount() int {
	if s.Workers > 0 {
		return s.Workers
	}
	return DefaultWorkers
}

// PoisonThreshold is how many consecutive crashes while a message is
// being processed make it poison (Exchange's PoisonThreshold, default 2).
const PoisonThreshold = 2

// poisonQueue is the queue poison messages are listed in.
const poisonQueue = "poison"

// eventPoison is the tracking event of a message moved to the poison
// queue.
const eventPoison = "POISON"

func (s *Scheduler) wakeChan() chan struct{} {
	s.wakeOnce.Do(func() { s.wake = make(chan struct{}, 1) })
	return s.wake
}

func (s *Scheduler) initIndex() {
	if s.entries == nil {
		s.entries = map[string]*entry{}
		s.groups = map[string]*group{}
	}
}

// Load puts a message read from the queue into the index: call it for
// every message of the queue before Run (queue.Options.Scan does). A
// recipient whose first attempt was reserved by an earlier version (an
// attempt counted, no result) is due now.
func (s *Scheduler) Load(m *queue.Message) {
	for i := range m.Recipients {
		if r := &m.Recipients[i]; r.State == queue.Pending && r.Attempts > 0 && r.Last.Class == "" {
			r.NextAttempt = time.Time{}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initIndex()
	s.index(m).recovered = true
}

// Wake asks the scheduler to look at every message again now: after a
// reload, whose retry, delay and expiry settings may differ.
func (s *Scheduler) Wake() {
	s.mu.Lock()
	s.initIndex()
	s.rescheduleAll()
	s.mu.Unlock()
	s.poke()
}

// poke wakes the scheduler's loop: something became due, or a worker is
// free.
func (s *Scheduler) poke() {
	select {
	case s.wakeChan() <- struct{}{}:
	default:
	}
}

// Add puts a new message in the queue and in the index, due at once.
// received, when not nil, is called once the message is durable and
// before the scheduler can process it (the receive path writes its
// RECEIVE events there, so that they come before any DELIVER).
func (s *Scheduler) Add(env queue.Envelope, body io.Reader, received func(m *queue.Message)) (*queue.Message, error) {
	now := s.now()
	if env.Arrival.IsZero() {
		env.Arrival = now.UTC().Round(0)
	}
	env.Recipients = slices.Clone(env.Recipients)
	m, err := s.Queue.Add(env, body)
	if err != nil {
		return nil, err
	}
	if received != nil {
		received(m)
	}
	s.mu.Lock()
	s.initIndex()
	s.index(m)
	s.mu.Unlock()
	s.poke()
	return m, nil
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

// Run processes the messages as they come due until ctx is done: a timer
// armed for the head of the heap of due times wakes it, as do Add and a
// worker that finishes. A slow delivery holds one worker, not the loop.
// When ctx ends, Run waits for the deliveries under way; nothing is lost.
func (s *Scheduler) Run(ctx context.Context) {
	s.start()
	wake := s.wakeChan()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer s.workers.Wait()
	for {
		next, ok := s.dispatch(ctx)
		timer.Stop()
		if ok {
			timer.Reset(max(next.Sub(s.now()), 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-wake:
		}
	}
}

// RunOnce processes every message due now and waits for them.
func (s *Scheduler) RunOnce(ctx context.Context) {
	s.start()
	now := s.now()
	var due []*entry
	s.mu.Lock()
	s.initIndex()
	for len(s.heap) > 0 && !s.heap[0].due.After(now) {
		e := s.heap[0]
		e.busy = true
		s.schedule(e) // out of the heap
		due = append(due, e)
	}
	s.mu.Unlock()
	for _, e := range due {
		select {
		case slot := <-s.slots:
			s.launch(ctx, e, slot)
		case <-ctx.Done():
			s.mu.Lock()
			e.busy = false
			s.schedule(e)
			s.mu.Unlock()
		}
	}
	s.workers.Wait()
}

// dispatch starts every message that is due, as long as a worker is
// free. It returns when the next one is due (ok false: none is, or no
// worker is free and the one that frees up will poke the loop).
func (s *Scheduler) dispatch(ctx context.Context) (next time.Time, ok bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initIndex()
	for len(s.heap) > 0 && ctx.Err() == nil {
		e := s.heap[0]
		if e.due.After(now) {
			return e.due, true
		}
		if s.holdForHop(e, now) {
			s.schedule(e) // back in the heap at e.hopWait
			continue
		}
		var slot int
		select {
		case slot = <-s.slots:
		default:
			return time.Time{}, false
		}
		e.busy = true
		s.schedule(e) // out of the heap
		s.launch(ctx, e, slot)
	}
	return time.Time{}, false
}

// start opens the in-flight markers once, before the first dispatch, and
// handles what the last run left: the messages it was processing when it
// died, and the RECEIVE events it may not have written (recover.go).
func (s *Scheduler) start() {
	s.startOnce.Do(func() {
		n := s.workerCount()
		s.slots = make(chan int, n)
		for i := range n {
			s.slots <- i
		}
		mk, ids, err := s.Queue.OpenMarkers(n)
		if err != nil {
			s.Log.Error("in-flight markers: a crash while processing a message will not be detected", "err", err)
		} else {
			s.markers = mk
		}
		s.mu.Lock()
		s.initIndex()
		s.mu.Unlock()
		s.recoverCrashed(ids)
		s.recordRecovered()
		s.started.Store(true)
	})
}

// Started reports whether the scheduler has handled what the last run
// left (its start, at the first dispatch): a stop after it is clean for
// the next start (CleanStart).
func (s *Scheduler) Started() bool { return s.started.Load() }

// Close releases the in-flight markers, after Run has returned.
func (s *Scheduler) Close() {
	if s.markers != nil {
		s.markers.Close()
	}
}

// launch processes e on a worker in slot; e is busy and out of the heap.
func (s *Scheduler) launch(ctx context.Context, e *entry, slot int) {
	s.workers.Add(1)
	go func() {
		defer s.workers.Done()
		s.work(ctx, e, slot)
	}()
}

// work processes e: the worker boundary. A panic is recovered, logged
// with its stack and counted as a crash of the message (recover.go); the
// hub goes on with every other message.
func (s *Scheduler) work(ctx context.Context, e *entry, slot int) {
	id := e.m.ID
	if s.markers != nil {
		if err := s.markers.Set(slot, id); err != nil {
			s.storageFailure("writing an in-flight marker; a crash while processing this message will not be counted", id, err)
		}
	}
	var out outcome
	defer func() {
		if p := recover(); p != nil {
			s.Log.Error("panic while processing a queued message; counted as a crash of the message, the hub goes on",
				"id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			out = s.crashed(e.m, fmt.Sprintf("panic: %v", p), false)
		}
		if s.markers != nil && !out.removed {
			// A removed message's marker is left as it is until the slot's
			// next Set: at a restart it names no queued message and is
			// passed over (recoverCrashed), so blanking it is one write
			// per delivered message for nothing.
			s.markers.Clear(slot)
		}
		s.settle(e, out)
		s.slots <- slot
		s.poke()
	}()
	out = s.process(ctx, e.m.Clone(), e.dirty)
}

// outcome is what processing a message came to.
type outcome struct {
	m       *queue.Message // its record now; nil: unchanged
	removed bool           // it left the queue
	dirty   bool           // m could not be written: written again later (diskfull.go)
	later   bool           // its reports or removal failed: tried again later
	// reached says, for each connector hop tried, whether its host was
	// reached; hopWait, when set, is when the recipients left waiting for
	// a hop in retry are to be looked at again (hopretry.go).
	reached map[string]bool
	hopWait time.Time
}

// settle puts e back in the index after processing, as out says.
func (s *Scheduler) settle(e *entry, out outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.busy = false
	s.hopResults(e.m.ID, out.reached, s.now())
	e.hopWait = out.hopWait
	if out.removed {
		if s.entries[e.m.ID] == e {
			s.drop(e)
		}
		return
	}
	e.dirty = out.dirty
	e.notBefore = time.Time{}
	if out.dirty || out.later || out.m == nil {
		// A failure to record, or nothing to do though it was due: not
		// again at once (no hot loop, whatever the cause).
		e.notBefore = s.now().Add(storageRetry)
	}
	m := out.m
	if m == nil {
		m = e.m
	}
	s.index(m)
}
