package scheduler

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/delivery"
)

// deferAll makes the Internet connector answer every recipient with a
// transient failure from a host that answered (a host not reached would
// put the hop in retry: hopretry.go), counting the messages it is given.
func deferAll(f *fixture) *atomic.Int64 {
	var n atomic.Int64
	f.s.Connector = func(string) delivery.Agent {
		return agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
			n.Add(1)
			out := make([]delivery.Result, len(m.Recipients))
			for i := range out {
				out[i] = delivery.Result{Class: delivery.Retry, Status: "4.3.0", Text: "busy", RemoteText: "451 4.3.0 busy, try later"}
			}
			return out
		})
	}
	return &n
}

// A retry of many messages writes nothing to the queue, and every one of
// them is attempted at the next pass, which writes the result. A restart
// before that pass finds the records as they were: valid, on their
// earlier schedule.
func TestRetryWritesNothing(t *testing.T) {
	const n = 60
	f := newFixture(t)
	delivered := deferAll(f)
	for i := range n {
		queueTo(t, f, fmt.Sprintf("user%d@fabrikam.test", i))
	}
	f.s.RunOnce(context.Background())
	if got := delivered.Load(); got != n {
		t.Fatalf("first pass attempted %d messages, want %d", got, n)
	}
	f.now = f.now.Add(10 * time.Second) // not due again for a minute

	before := f.writes.Load()
	a, err := f.s.Retry(control.Select{}, "tester")
	if err != nil || len(a.Messages) != n || a.Recipients != n {
		t.Fatalf("retry: %d messages, %d recipients, %v; want %d", len(a.Messages), a.Recipients, err, n)
	}
	if w := f.writes.Load() - before; w != 0 {
		t.Errorf("retry of %d messages made %d writes to the queue, want none", n, w)
	}
	if strings.Count(readTrack(t, f), `"event":"RETRY"`) != n {
		t.Errorf("the tracking log lacks a RETRY event per message")
	}
	msgs, err := f.s.Queue.List()
	if err != nil || len(msgs) != n {
		t.Fatalf("listing the queue: %d, %v", len(msgs), err)
	}
	for _, m := range msgs {
		if r := m.Recipients[0]; r.Attempts != 1 || !r.NextAttempt.After(f.now) || r.BackoffFrom != 0 {
			t.Fatalf("on disk after the retry, %s: %+v; want it as the first attempt left it", m.ID, r)
		}
	}

	f.s.RunOnce(context.Background())
	if got := delivered.Load(); got != 2*n {
		t.Fatalf("the pass after the retry attempted %d messages, want %d", got-n, n)
	}
	msgs, _ = f.s.Queue.List()
	for _, m := range msgs {
		if r := m.Recipients[0]; r.Attempts != 2 || r.BackoffFrom != 1 || r.LastAttempt != f.now {
			t.Fatalf("on disk after the attempt, %s: %+v; want 2 attempts, backoff from 1", m.ID, r)
		}
	}

	// A retry, then a restart before the pass: the old schedule.
	f.now = f.now.Add(10 * time.Second)
	if a, err := f.s.Retry(control.Select{}, "tester"); err != nil || a.Recipients != n {
		t.Fatalf("second retry: %+v %v", a, err)
	}
	f.restart(t)
	delivered = deferAll(f)
	f.s.RunOnce(context.Background())
	if got := delivered.Load(); got != 0 {
		t.Errorf("after a restart, %d messages were attempted before their time", got)
	}
	f.now = f.now.Add(2 * time.Minute)
	f.s.RunOnce(context.Background())
	if got := delivered.Load(); got != n {
		t.Errorf("after a restart, %d of %d messages attempted on their schedule", got, n)
	}
}

// A retry on a full disk still makes the messages due, and their
// attempt, once the disk has room, writes the result.
func TestRetryOnAFullDisk(t *testing.T) {
	f := newFixture(t)
	delivered := deferAll(f)
	id := queueTo(t, f, "carol@fabrikam.test")
	f.s.RunOnce(context.Background())
	f.now = f.now.Add(10 * time.Second)
	f.full.Store(true)
	if a, err := f.s.Retry(control.Select{}, "tester"); err != nil || a.Recipients != 1 {
		t.Fatalf("retry on a full disk: %+v %v", a, err)
	}
	f.full.Store(false)
	f.s.RunOnce(context.Background())
	if delivered.Load() != 2 {
		t.Fatalf("attempts: %d, want 2", delivered.Load())
	}
	if r := get(t, f, id).Recipients[0]; r.Attempts != 2 || r.BackoffFrom != 1 {
		t.Errorf("on disk: %+v", r)
	}
}

// A hold of many messages is written before the command answers (the
// writes run in parallel): after a restart none is attempted, and a
// release, written too, survives the next restart.
func TestHoldSurvivesARestart(t *testing.T) {
	const n = 80
	f := newFixture(t)
	deferAll(f)
	for i := range n {
		queueTo(t, f, fmt.Sprintf("user%d@fabrikam.test", i))
	}
	f.s.RunOnce(context.Background())
	a, err := f.s.Hold(control.Select{All: true}, "tester")
	if err != nil || len(a.Messages) != n || a.Recipients != n {
		t.Fatalf("hold: %d messages, %d recipients, %v", len(a.Messages), a.Recipients, err)
	}
	if strings.Count(readTrack(t, f), `"event":"HOLD"`) != n {
		t.Errorf("the tracking log lacks a HOLD event per message")
	}

	f.restart(t)
	delivered := deferAll(f)
	f.now = f.now.Add(2 * time.Hour) // past the retry time and the expiry
	f.s.RunOnce(context.Background())
	if got := delivered.Load(); got != 0 {
		t.Fatalf("%d held messages attempted after a restart", got)
	}
	ql, err := f.s.List(control.Select{})
	if err != nil || len(ql.Queues) != 1 || ql.Queues[0].Held != n || ql.Queues[0].Messages != n {
		t.Fatalf("after the restart: %+v %v", ql, err)
	}

	if a, err := f.s.Release(control.Select{All: true}, "tester"); err != nil || a.Recipients != n {
		t.Fatalf("release: %+v %v", a, err)
	}
	f.restart(t)
	f.s.RunOnce(context.Background()) // expired while held: 4.4.7 to bob
	msgs, _ := f.s.Queue.List()
	for _, m := range msgs {
		if m.From != "" {
			t.Fatalf("a released message stayed queued after a restart: %+v", m.Recipients[0])
		}
	}
	if len(msgs) != n {
		t.Errorf("%d reports queued, want %d", len(msgs), n)
	}
}

// A hold that cannot be written fails, says where, and leaves the
// messages as they were, in memory as on disk.
func TestHoldOnAFullDisk(t *testing.T) {
	f := newFixture(t)
	delivered := deferAll(f)
	for i := range 10 {
		queueTo(t, f, fmt.Sprintf("user%d@fabrikam.test", i))
	}
	f.s.RunOnce(context.Background())
	f.full.Store(true)
	a, err := f.s.Hold(control.Select{All: true}, "tester")
	if err == nil || !strings.Contains(err.Error(), "hold ") {
		t.Fatalf("hold on a full disk: %+v, error %v", a, err)
	}
	if len(a.Messages) != 0 {
		t.Errorf("the hold counted %d messages it could not write", len(a.Messages))
	}
	f.full.Store(false)
	if ql, _ := f.s.List(control.Select{}); ql.Queues[0].Held != 0 {
		t.Errorf("%d recipients held in memory though not on disk", ql.Queues[0].Held)
	}
	f.now = f.now.Add(2 * time.Minute)
	f.s.RunOnce(context.Background())
	if got := delivered.Load(); got != 20 {
		t.Errorf("after a failed hold, %d attempts, want 20", got)
	}
	msgs, _ := f.s.Queue.List()
	for _, m := range msgs {
		if m.Recipients[0].Held {
			t.Errorf("%s held on disk", m.ID)
		}
	}
}
