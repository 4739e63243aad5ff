package scheduler

import (
	"errors"
	"fmt"
	"sync"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/tracking"
)

// durability is how an administrator's action on queued messages is made
// durable (act, admin.go).
type durability int

const (
	write      durability = iota // each changed record is written before the action counts it
	memoryOnly                   // the change lives in memory until the message's next attempt writes it
)

// adminWriters is how many records an action writes at once. A record's
// write is an fdatasync of its own file and a share of a folder fsync
// (internal/queue, dirsync.go): written one after the other, every
// message waits for the disk's full flush latency (about 60 s for 20,000
// messages on the benchmark machine); written together, the flushes
// overlap and the folder fsyncs are shared.
const adminWriters = 32

// change1 is one message changed by an action, waiting to be written.
type change1 struct {
	e      *entry
	m      *queue.Message
	n      int              // recipients changed
	events []tracking.Event // written once the change is in force
	moves  *control.Action  // the moves change reported (reroute)
}

// adminWrites writes the records an action changed, adminWriters at a
// time, and gathers what was done into a.
type adminWrites struct {
	s      *Scheduler
	a      *control.Action
	action string
	queue  chan change1
	wg     sync.WaitGroup

	mu  sync.Mutex // guards a and err
	err error      // the first failure to write: the action stops there
}

// start starts the writers.
func (w *adminWrites) start() {
	w.queue = make(chan change1)
	for range adminWriters {
		w.wg.Go(func() {
			for c := range w.queue {
				w.write(c)
			}
		})
	}
}

// write writes c's record, then ends its claim with the new record in the
// index, or with the old one when it could not be written.
func (w *adminWrites) write(c change1) {
	if w.failed() {
		w.s.unclaim(c.e) // the action stopped at an earlier failure
		return
	}
	err := safelyWrite(w.s, c.m)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		w.s.unclaim(c.e) // delivered and removed meanwhile
		return
	case err != nil:
		w.s.unclaim(c.e)
		w.mu.Lock()
		if w.err == nil {
			w.err = fmt.Errorf("%s %s: %w", w.action, c.m.ID, err)
		}
		w.mu.Unlock()
		return
	}
	w.s.settle(c.e, outcome{m: c.m})
	w.done(c)
}

// safelyWrite is Put, with a panic turned into an error: the writers are
// goroutines of their own (no goroutine may take the hub down).
func safelyWrite(s *Scheduler, m *queue.Message) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("writing the record of %s panicked: %v", m.ID, v)
			s.Log.Error("queue administration: writing a record panicked", "id", m.ID, "panic", v)
		}
	}()
	return s.Queue.Put(m)
}

// done counts c in the action's result and writes its tracking events.
func (w *adminWrites) done(c change1) {
	w.mu.Lock()
	w.a.Messages = append(w.a.Messages, c.m.ID)
	w.a.Recipients += c.n
	w.a.Moves = append(w.a.Moves, c.moves.Moves...)
	w.mu.Unlock()
	for _, e := range c.events {
		w.s.TrackEvent(e)
	}
}

// failed reports whether a write has failed.
func (w *adminWrites) failed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}

// wait waits for the writes under way and returns the first failure.
func (w *adminWrites) wait() error {
	if w.queue != nil {
		close(w.queue)
		w.wg.Wait()
	}
	return w.err
}
