package scheduler

import (
	"context"
	"time"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/queue"
)

// claim marks message id as being worked on, by a worker or by an
// administrator's action, so that the two never overlap: a message is not
// changed or removed while its delivery is under way, nor delivered while
// it is being changed or removed. It returns the entry, or nil and false
// when id is claimed already; nil and true when it is not in the queue.
func (s *Scheduler) claim(id string) (e *entry, free bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initIndex()
	e = s.entries[id]
	if e == nil {
		return nil, true
	}
	if e.busy {
		return nil, false
	}
	e.busy = true
	s.schedule(e) // out of the heap
	return e, true
}

// unclaim ends a claim that changed nothing.
func (s *Scheduler) unclaim(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.busy = false
	if s.entries[e.m.ID] == e {
		s.schedule(e)
	}
}

// amend ends a claim with m as e's record, changed in memory only (a
// retry, act): e stays as dirty as it was, since a record that a full
// disk kept from being written is still to be written, and the next
// attempt writes m whole.
func (s *Scheduler) amend(e *entry, m *queue.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.busy = false
	if s.entries[e.m.ID] == e {
		s.index(m)
	}
}

// claimWait claims id, waiting up to wait for a delivery under way to
// finish. It fails with control.CodeBusy when the delivery takes longer,
// and with queue.ErrNotFound when id is not (or no longer) queued.
func (s *Scheduler) claimWait(ctx context.Context, id string, wait time.Duration) (*entry, error) {
	deadline := time.Now().Add(wait)
	for {
		e, free := s.claim(id)
		if e != nil {
			return e, nil
		}
		if free {
			return nil, queue.ErrNotFound
		}
		if time.Now().After(deadline) {
			return nil, control.Errorf(control.CodeBusy, "a delivery of %s is under way and has not finished after %s; try again when it has", id, wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
