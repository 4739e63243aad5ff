package scheduler

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/queue"
)

// loadBacklog indexes n messages waiting for a connector that is down,
// as the start-up scan would (no disk).
func loadBacklog(b *testing.B, n int) *fixture {
	f := newFixture(b)
	f.s.Log = discardLog()
	for i := range n {
		f.s.Load(&queue.Message{ID: fmt.Sprintf("%016x-%012x", i, i), Size: 2048, Envelope: queue.Envelope{
			From: "bob@fabrikam.test", Arrival: f.now.Add(-time.Duration(i) * time.Millisecond),
			Recipients: []queue.Recipient{{Written: "carol@example.org", Type: "SMTP", Address: "carol@example.org", State: queue.Pending,
				NextHop: "connector:Internet@hub1", Attempts: 3, NextAttempt: f.now.Add(10 * time.Minute),
				Last: queue.Result{Class: queue.ClassRetry, Status: "4.4.1", RemoteText: "connection refused"}}}}})
	}
	return f
}

// The queue list and the metrics with 100,000 messages queued (targets:
// queue list under 1 s, /metrics under 50 ms; docs/performance.md).
func BenchmarkQueueList100k(b *testing.B) {
	f := loadBacklog(b, 100_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.s.List(control.Select{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQueueStats100k(b *testing.B) {
	f := loadBacklog(b, 100_000)
	b.ResetTimer()
	for b.Loop() {
		f.s.QueueStats()
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
