package scheduler

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/queue"
)

// A panic while processing a message is recovered at the worker boundary
// and counts as a crash of that message; the other messages are delivered
// all the same. The second consecutive crash makes it poison: listed in
// the queue "poison", never attempted nor expired, until an administrator
// releases it; then it is delivered.
func TestPanicTwiceMakesPoison(t *testing.T) {
	f := newFixture(t)
	var panics atomic.Bool
	panics.Store(true)
	var calls atomic.Int32
	f.s.Connector = func(string) delivery.Agent {
		return agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
			calls.Add(1)
			if panics.Load() {
				var p *delivery.Message
				_ = p.ID // a nil dereference, as a bug in an agent would
			}
			return []delivery.Result{{Class: delivery.Relayed, Status: "2.0.0", Text: "ok"}}
		})
	}
	bad := queueTo(t, f, "carol@fabrikam.test")
	good := queueTo(t, f, "alice@contoso.test")

	f.s.RunOnce(context.Background()) // must not take the test down
	if len(f.inbox(t, delivery.Folder("alice@contoso.test"))) != 1 {
		t.Fatal("the other message was not delivered after the panic")
	}
	if _, err := f.s.Queue.Get(good); err == nil {
		t.Error("the delivered message is still queued")
	}
	m := get(t, f, bad)
	if m.Crashes != 1 || m.Poison != "" || m.Recipients[0].State != queue.Pending {
		t.Fatalf("after the first panic: crashes %d, poison %q, %+v", m.Crashes, m.Poison, m.Recipients[0])
	}
	if !m.Recipients[0].NextAttempt.After(f.now) {
		t.Error("a message that panicked is due again at once (a hot loop)")
	}

	f.now = m.Recipients[0].NextAttempt
	f.s.RunOnce(context.Background())
	m = get(t, f, bad)
	if m.Crashes != 2 || !strings.Contains(m.Poison, "panic") {
		t.Fatalf("after the second panic: crashes %d, poison %q", m.Crashes, m.Poison)
	}
	ql, err := f.s.List(control.Select{})
	if err != nil || len(ql.Queues) != 1 || ql.Queues[0].Queue != "poison" || ql.Queues[0].Messages != 1 {
		t.Fatalf("queue list: %+v %v, want the message in the queue poison", ql, err)
	}
	if ql, _ := f.s.List(control.Select{Messages: true, State: "poison"}); len(ql.Messages) != 1 || ql.Messages[0].Poison == "" {
		t.Errorf("list --state poison: %+v", ql)
	}

	// Never retried nor expired while poison.
	n := calls.Load()
	f.now = f.now.Add(48 * time.Hour)
	f.s.RunOnce(context.Background())
	if calls.Load() != n {
		t.Error("a poison message was attempted")
	}
	if m := get(t, f, bad); m.Recipients[0].State != queue.Pending {
		t.Errorf("a poison message expired: %+v", m.Recipients[0])
	}
	// retry leaves it alone; release takes it out.
	if a, _ := f.s.Retry(control.Select{All: true}, "tester"); a.Recipients != 0 || len(a.Skipped) == 0 {
		t.Errorf("retry of a poison message: %+v", a)
	}
	panics.Store(false)
	a, err := f.s.Release(control.Select{IDs: []string{bad}}, "tester")
	if err != nil || a.Recipients != 1 {
		t.Fatalf("release: %+v %v", a, err)
	}
	f.s.RunOnce(context.Background())
	if _, err := f.s.Queue.Get(bad); err == nil {
		t.Error("the released message was not delivered")
	}
	if tr := readTrack(t, f); !strings.Contains(tr, `"event":"POISON"`) || !strings.Contains(tr, "released from the poison queue") {
		t.Errorf("tracking log lacks POISON or the release:\n%s", tr)
	}
}

// A message in flight when the process dies is attempted at once at the
// next start; in flight during two consecutive crashes, it is poison.
// The worker's marker names the message while it is processed.
func TestCrashInFlightTwiceMakesPoison(t *testing.T) {
	f := newFixture(t)
	f.s.Workers = 2
	var marked atomic.Value
	f.s.Connector = func(string) delivery.Agent {
		return agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
			var ids []string
			files, _ := filepath.Glob(filepath.Join(f.dir, "queue", "inflight", "*"))
			for _, p := range files {
				b, _ := os.ReadFile(p)
				ids = append(ids, strings.TrimSpace(string(b)))
			}
			marked.Store(strings.Join(ids, ","))
			return []delivery.Result{{Class: delivery.Retry, Status: "4.4.1", Text: "no answer"}}
		})
	}
	id := queueTo(t, f, "carol@fabrikam.test")
	f.s.RunOnce(context.Background())
	if got, _ := marked.Load().(string); !strings.Contains(got, id) {
		t.Fatalf("in-flight markers during the delivery: %q, want %s", got, id)
	}
	files, _ := filepath.Glob(filepath.Join(f.dir, "queue", "inflight", "*"))
	for _, p := range files {
		if b, _ := os.ReadFile(p); strings.TrimSpace(string(b)) != "" {
			t.Errorf("marker %s still says %q after the delivery", p, b)
		}
	}

	// A crash during the next attempt: the marker is left as it was.
	crash := func() {
		t.Helper()
		mk, _, err := f.s.Queue.OpenMarkers(2)
		if err != nil {
			t.Fatal(err)
		}
		mk.Set(1, id)
		mk.Close()
		f.restart(t)
		f.s.start() // what Run and RunOnce do first
	}
	before := get(t, f, id).Recipients[0].Attempts
	crash()
	f.s.RunOnce(context.Background()) // no time has passed: only what the crash interrupted is due
	m := get(t, f, id)
	if m.Crashes != 0 || m.Recipients[0].Attempts != before+1 {
		t.Errorf("after one crash: crashes %d, attempts %d (want 0 and %d: attempted at once, and the count of crashes ends with it)",
			m.Crashes, m.Recipients[0].Attempts, before+1)
	}

	crash()
	crash()
	m = get(t, f, id)
	if m.Crashes != 2 || m.Poison == "" {
		t.Fatalf("after two consecutive crashes: crashes %d, poison %q", m.Crashes, m.Poison)
	}
	attempts := m.Recipients[0].Attempts
	f.now = f.now.Add(time.Hour)
	f.s.RunOnce(context.Background())
	if m := get(t, f, id); m.Recipients[0].Attempts != attempts {
		t.Error("a poison message was attempted")
	}
	if ql, _ := f.s.List(control.Select{}); len(ql.Queues) != 1 || ql.Queues[0].Queue != "poison" {
		t.Errorf("queue list after the restart: %+v", ql.Queues)
	}
}

// A delivered message leaves its worker's marker as it was (one write
// less per message): a crash after it is not counted against anything,
// and the next start goes on with the other messages.
func TestMarkerOfADeliveredMessage(t *testing.T) {
	f := newFixture(t)
	f.s.Workers = 1
	var calls atomic.Int32
	f.s.Connector = func(string) delivery.Agent {
		return agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
			calls.Add(1)
			return []delivery.Result{{Class: delivery.Relayed, Status: "2.0.0", Text: "ok"}}
		})
	}
	sent := queueTo(t, f, "carol@fabrikam.test")
	f.s.RunOnce(context.Background())
	if _, err := f.s.Queue.Get(sent); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("the delivered message is still queued: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(f.dir, "queue", "inflight", "0"))
	if err != nil || strings.TrimSpace(string(b)) != sent {
		t.Fatalf("marker after the delivery: %q %v, want %s left as it was", b, err, sent)
	}

	// The process dies now; the next start passes over the marker.
	next := queueTo(t, f, "carol@fabrikam.test")
	f.restart(t)
	f.s.start()
	if m := get(t, f, next); m.Crashes != 0 || m.Poison != "" {
		t.Errorf("a message that was not in flight counted a crash: %+v", m)
	}
	f.s.RunOnce(context.Background())
	if _, err := f.s.Queue.Get(next); !errors.Is(err, queue.ErrNotFound) || calls.Load() != 2 {
		t.Errorf("after the restart: %v, %d deliveries; want the next message delivered", err, calls.Load())
	}
}
