package shadow

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// Held is one primary this hub keeps a shadow of: its queue ID on the
// holder, and when this hub began to keep the shadow.
type Held struct {
	ID    string
	Since time.Time
}

// Holdings is the shadows of a hub (the scheduler's index).
type Holdings interface {
	// Shadows returns, by holder hub, the primaries this hub keeps
	// shadows of.
	Shadows() map[string][]Held
	// Discharge ends the shadows of id on holder: it was delivered onward.
	Discharge(holder, id string)
	// Resubmit makes the shadows of id on holder primaries again, to be
	// routed anew; reason goes to the tracking log (RESUBMIT).
	Resubmit(holder, id, reason string)
}

// Querier asks holder about ids (the discharge query over the hub
// channel). An error means the holder could not be asked: it counts as
// silence.
type Querier func(ctx context.Context, holder string, ids []string) (map[string]Status, error)

// Watcher is the heartbeat of a hub's shadows: every Interval(timeout) it
// asks each holder of a primary about the IDs it keeps shadows of,
// discharges those Done, resubmits those Unknown, and resubmits every
// shadow of a holder that has not answered for longer than the
// heartbeat timeout (counted from the later of its last answer, the
// watcher's start and the shadow's creation).
type Watcher struct {
	Holdings Holdings
	Query    Querier
	Timeout  func() time.Duration // shadow_heartbeat_timeout in force
	Log      *slog.Logger
	Now      func() time.Time
	// Resubmitted, when set, counts each resubmission, by reason
	// ("unknown" or "timeout"), for the metrics.
	Resubmitted func(reason string)

	once    sync.Once
	mu      sync.Mutex
	started time.Time
	seen    map[string]time.Time // holder -> its last answer
}

// MaxBatch is the most IDs asked about in one transaction.
const MaxBatch = 500

// Interval is how often a hub asks the holders: a fifth of the heartbeat
// timeout, at least 200 milliseconds.
func Interval(timeout time.Duration) time.Duration { return max(timeout/5, 200*time.Millisecond) }

func (w *Watcher) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Watcher) init() {
	w.once.Do(func() {
		w.started = w.now()
		w.seen = map[string]time.Time{}
		if w.Log == nil {
			w.Log = slog.Default()
		}
	})
}

// Run asks every Interval until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	w.init()
	for {
		t := time.NewTimer(Interval(w.Timeout()))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		w.Once(ctx)
	}
}

// Once asks every holder once, in parallel, and applies the answers.
func (w *Watcher) Once(ctx context.Context) {
	w.init()
	held := w.Holdings.Shadows()
	ctx, cancel := context.WithTimeout(ctx, max(Interval(w.Timeout()), 5*time.Second))
	defer cancel()
	var wg sync.WaitGroup
	for holder, ids := range held {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					w.Log.Error("panic while asking a hub about its primaries; the next heartbeat asks again",
						"holder", holder, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				}
			}()
			w.ask(ctx, holder, ids)
		}()
	}
	wg.Wait()
}

// ask asks holder about ids and applies the answers.
func (w *Watcher) ask(ctx context.Context, holder string, held []Held) {
	slices.SortFunc(held, func(a, b Held) int { return a.Since.Compare(b.Since) })
	for start := 0; start < len(held); start += MaxBatch {
		batch := held[start:min(start+MaxBatch, len(held))]
		ids := make([]string, len(batch))
		for i, h := range batch {
			ids[i] = h.ID
		}
		answers, err := w.Query(ctx, holder, ids)
		if err != nil {
			w.silent(holder, held[start:], err)
			return
		}
		w.mu.Lock()
		w.seen[holder] = w.now()
		w.mu.Unlock()
		for _, id := range ids {
			switch answers[id] {
			case Done:
				w.Holdings.Discharge(holder, id)
			case Unknown:
				w.resubmit(holder, id, "unknown", fmt.Sprintf("%s does not know its primary %s (its queue was lost, or it forgot it): the shadow is delivered from here", holder, id))
			}
		}
	}
}

// silent resubmits the shadows on holder that have waited for an answer
// longer than the heartbeat timeout.
func (w *Watcher) silent(holder string, held []Held, err error) {
	timeout := w.Timeout()
	now := w.now()
	w.mu.Lock()
	last := w.seen[holder]
	if last.Before(w.started) {
		last = w.started
	}
	w.mu.Unlock()
	w.Log.Warn("shadow heartbeat: the hub holding the primaries did not answer", "holder", holder, "shadows", len(held),
		"silent_for", now.Sub(last).Round(time.Millisecond).String(), "timeout", timeout.String(), "err", err)
	for _, h := range held {
		from := last
		if h.Since.After(from) {
			from = h.Since
		}
		if now.Sub(from) > timeout {
			w.resubmit(holder, h.ID, "timeout", fmt.Sprintf("%s has not answered the shadow heartbeat for %s (shadow_heartbeat_timeout %s; last error: %v): the shadow is delivered from here",
				holder, now.Sub(from).Round(time.Second), timeout, err))
		}
	}
}

func (w *Watcher) resubmit(holder, id, why, reason string) {
	w.Holdings.Resubmit(holder, id, reason)
	if w.Resubmitted != nil {
		w.Resubmitted(why)
	}
}
