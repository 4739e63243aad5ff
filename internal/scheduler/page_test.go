package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/queue"
)

// backlog indexes n messages waiting for a connector, as the start-up scan
// would (no disk); every third one held.
func backlog(t testing.TB, n int) *fixture {
	f := newFixture(t)
	f.s.Log = discardLog()
	for i := range n {
		f.s.Load(&queue.Message{ID: fmt.Sprintf("%016x-%012x", i, i), Size: 2048, Envelope: queue.Envelope{
			From: "bob@fabrikam.test", Arrival: f.now.Add(-time.Duration(i) * time.Millisecond),
			Recipients: []queue.Recipient{{Written: "carol@example.org", Type: "SMTP", Address: "carol@example.org", State: queue.Pending,
				NextHop: "connector:Internet@hub1", Attempts: 3, NextAttempt: f.now.Add(10 * time.Minute), Held: i%3 == 0}}}})
	}
	return f
}

func TestPage(t *testing.T) {
	f := backlog(t, 250)
	page, total, err := f.s.Page(control.Select{Queue: "connector:Internet@hub1"}, 100, 50)
	if err != nil {
		t.Fatal(err)
	}
	if total != 250 || len(page.Messages) != 50 || page.Messages[0].ID != fmt.Sprintf("%016x-%012x", 100, 100) {
		t.Fatalf("total %d, %d messages from %v; want 250, 50 from the 101st", total, len(page.Messages), page.Messages[0].ID)
	}
	held, total, _ := f.s.Page(control.Select{State: "held"}, 80, 50)
	if total != 84 || len(held.Messages) != 4 {
		t.Errorf("held: total %d, last page %d; want 84 and 4", total, len(held.Messages))
	}
	if _, _, err := f.s.Page(control.Select{State: "frozen"}, 0, 10); err == nil {
		t.Error("a bad state was accepted")
	}
}

// A page of a queue of 10,000 messages (the console's target: under
// 100 ms; docs/performance.md).
func BenchmarkPage10k(b *testing.B) {
	f := backlog(b, 10_000)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := f.s.Page(control.Select{Queue: "connector:Internet@hub1"}, 5000, 50); err != nil {
			b.Fatal(err)
		}
	}
}
