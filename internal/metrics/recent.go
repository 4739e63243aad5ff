package metrics

import (
	"sync"
	"time"
)

// window counts events of the last hour in one-minute buckets, for the
// console's overview ("received and delivered in the last hour"); the
// Prometheus counters only ever grow.
type window struct {
	mu      sync.Mutex
	buckets [60]struct {
		minute int64 // Unix minute the count is of
		n      int
	}
}

func (w *window) add(now time.Time, n int) {
	m := now.Unix() / 60
	w.mu.Lock()
	b := &w.buckets[m%60]
	if b.minute != m {
		b.minute, b.n = m, 0
	}
	b.n += n
	w.mu.Unlock()
}

// sum is the count of the 60 minutes up to now (this minute included).
func (w *window) sum(now time.Time) int {
	m := now.Unix() / 60
	w.mu.Lock()
	defer w.mu.Unlock()
	total := 0
	for _, b := range w.buckets {
		if b.minute > m-60 && b.minute <= m {
			total += b.n
		}
	}
	return total
}

// LastHour returns the messages received and the recipients delivered in
// the last hour (to the minute).
func (m *Metrics) LastHour() (received, delivered int) {
	if m == nil {
		return 0, 0
	}
	now := time.Now()
	return m.recentIn.sum(now), m.recentOut.sum(now)
}
