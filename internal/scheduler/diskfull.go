package scheduler

import (
	"errors"
	"sync"
	"time"

	"github.com/waypost/waypost/internal/queue"
)

// A full disk (ENOSPC) or another storage failure must not stop delivery,
// which is what frees the space: an attempt whose record cannot be
// written keeps its state in memory (the entry is dirty) and the write is
// tried again every storageRetry; a delivered message is still removed.
// The same failure is logged at most once every storageLogEvery, with the
// count of the repeats not logged (docs/operations.md, "A full disk").

const (
	storageRetry    = 5 * time.Second
	storageLogEvery = 10 * time.Second
)

// limiter lets one log line through per key every storageLogEvery and
// counts the others.
type limiter struct {
	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int // repeats not logged since the last line
}

// allow reports whether a line for key may be logged at now, and how many
// were suppressed before it.
func (l *limiter) allow(key string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last, l.held = map[string]time.Time{}, map[string]int{}
	}
	if t, ok := l.last[key]; ok && now.Sub(t) < storageLogEvery {
		l.held[key]++
		return false, 0
	}
	n := l.held[key]
	l.last[key], l.held[key] = now, 0
	return true, n
}

// storageFailure logs a failure to record what happened to message id,
// at most once every storageLogEvery for the same kind of failure.
func (s *Scheduler) storageFailure(what, id string, err error) {
	key := what
	if errors.Is(err, queue.ErrStorage) {
		key += ": storage"
	} else {
		key += ": " + err.Error()
	}
	ok, suppressed := s.storage.allow(key, time.Now())
	if !ok {
		return
	}
	s.Log.Error(what, "id", id, "err", err, "suppressed_repeats", suppressed)
}
