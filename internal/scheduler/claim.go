package scheduler

import (
	"context"
	"time"

	"github.com/waypost/waypost/internal/control"
)

// claim marks message id as being worked on, by the scheduler's pass or by
// an administrator's removal, so that the two never overlap: a message is
// not removed while its delivery is under way, nor delivered while it is
// being removed. It reports false when id is claimed already.
func (s *Scheduler) claim(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[id] {
		return false
	}
	if s.inFlight == nil {
		s.inFlight = map[string]bool{}
	}
	s.inFlight[id] = true
	return true
}

func (s *Scheduler) unclaim(id string) { s.release(id) }

// claimWait claims id, waiting up to wait for a delivery under way to
// finish. It fails with control.CodeBusy when the delivery takes longer.
func (s *Scheduler) claimWait(ctx context.Context, id string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for !s.claim(id) {
		if time.Now().After(deadline) {
			return control.Errorf(control.CodeBusy, "a delivery of %s is under way and has not finished after %s; try again when it has", id, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
