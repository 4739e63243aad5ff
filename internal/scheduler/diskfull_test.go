package scheduler

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/delivery"
)

// lockedBuffer is a log the test reads while the scheduler writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// With the queue's disk full (ENOSPC on every write), delivery goes on:
// a delivered message is removed (which frees space), an attempt whose
// record cannot be written keeps its state in memory and is not made
// again, the write is retried later and succeeds once there is space, and
// the failure is logged once, not at each retry.
func TestDiskFullDeliveryGoesOn(t *testing.T) {
	f := newFixture(t)
	var log lockedBuffer
	f.s.Log = slog.New(slog.NewTextHandler(&log, nil))
	var calls atomic.Int32
	f.s.Connector = func(string) delivery.Agent {
		return agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
			calls.Add(1)
			return []delivery.Result{{Class: delivery.Retry, Status: "4.4.1", Text: "no answer"}}
		})
	}
	local := queueTo(t, f, "alice@contoso.test")
	remote := queueTo(t, f, "carol@fabrikam.test")

	f.full.Store(true)
	f.s.RunOnce(context.Background())
	if len(f.inbox(t, delivery.Folder("alice@contoso.test"))) != 1 {
		t.Fatal("the local delivery did not happen with the disk full")
	}
	if _, err := f.s.Queue.Get(local); err == nil {
		t.Error("the delivered message was not removed with the disk full")
	}
	if m := get(t, f, remote); m.Recipients[0].Attempts != 0 {
		t.Fatalf("a record was written with the disk full: %+v", m.Recipients[0])
	}
	if m := f.s.record(remote); m.Recipients[0].Attempts != 1 || m.Recipients[0].Last.Status != "4.4.1" {
		t.Fatalf("the attempt's state is not kept in memory: %+v", m.Recipients[0])
	}

	// The write is tried again a few seconds later (still full), without
	// delivering again.
	for range 3 {
		f.now = f.now.Add(storageRetry)
		f.s.RunOnce(context.Background())
	}
	if calls.Load() != 1 {
		t.Errorf("%d deliveries, want 1: a failed write made the attempt again", calls.Load())
	}
	if n := strings.Count(log.String(), "writing the results of an attempt"); n != 1 {
		t.Errorf("the failed write was logged %d times, want once:\n%s", n, log.String())
	}

	f.full.Store(false)
	f.now = f.now.Add(storageRetry)
	f.s.RunOnce(context.Background())
	if m := get(t, f, remote); m.Recipients[0].Attempts != 1 || m.Recipients[0].Last.Status != "4.4.1" {
		t.Errorf("the state kept in memory was not written once there was space: %+v", m.Recipients[0])
	}
	if calls.Load() != 1 {
		t.Errorf("%d deliveries after the disk had space again, want 1", calls.Load())
	}
}

// The log of a repeated failure: one line per storageLogEvery, which says
// how many were left out.
func TestLimiter(t *testing.T) {
	var l limiter
	at := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	if ok, n := l.allow("k", at); !ok || n != 0 {
		t.Fatalf("first: %v %d", ok, n)
	}
	for i := range 5 {
		if ok, _ := l.allow("k", at.Add(time.Duration(i)*time.Second)); ok {
			t.Fatal("a repeat within 10 s was let through")
		}
	}
	if ok, _ := l.allow("other", at); !ok {
		t.Error("another failure was held back")
	}
	if ok, n := l.allow("k", at.Add(storageLogEvery)); !ok || n != 5 {
		t.Errorf("after 10 s: %v, %d suppressed, want true, 5", ok, n)
	}
}
