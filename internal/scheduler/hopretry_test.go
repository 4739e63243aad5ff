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

// downConnector makes the Internet connector's host unreachable while
// down is set (every recipient 4.4.1 with no reply: delivery.Unreached),
// and deliver otherwise; it counts the messages it is given.
func downConnector(f *fixture, down *atomic.Bool) *atomic.Int64 {
	var n atomic.Int64
	f.s.Connector = func(string) delivery.Agent {
		return agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
			n.Add(1)
			out := make([]delivery.Result, len(m.Recipients))
			for i := range out {
				if down.Load() {
					out[i] = delivery.Result{Class: delivery.Retry, Status: "4.4.1", Text: "dial tcp 127.0.0.1:1: connect: connection refused"}
				} else {
					out[i] = delivery.Result{Class: delivery.Relayed, Status: "2.0.0", RemoteText: "250 2.0.0 Ok"}
				}
			}
			return out
		})
	}
	return &n
}

// queueToDownHop queues n messages to the Internet connector, whose host
// is down, for a scheduler of workers workers.
func queueToDownHop(t *testing.T, f *fixture, workers, n int) (down *atomic.Bool, tried *atomic.Int64) {
	t.Helper()
	f.s.Workers = workers
	down = new(atomic.Bool)
	down.Store(true)
	tried = downConnector(f, down)
	for i := range n {
		queueTo(t, f, fmt.Sprintf("user%d@fabrikam.test", i))
	}
	return down, tried
}

// pass is one turn of Run's loop at the fixture's time: every message due
// is started as workers free up, and the pass waits for them.
func (f *fixture) pass() {
	ctx := context.Background()
	f.s.start()
	for {
		f.s.dispatch(ctx)
		f.s.workers.Wait()
		f.s.mu.Lock()
		more := len(f.s.heap) > 0 && !f.s.heap[0].due.After(f.now)
		f.s.mu.Unlock()
		if !more {
			return
		}
	}
}

// A connector whose host cannot be reached puts its queue in retry: the
// other messages are not attempted one by one (no connection, no attempt
// counted, no DEFER), until the glitch retry interval has passed, when one
// message probes the host; once a probe reaches it every message goes at
// once. Without the retry state each message would be attempted on its
// own schedule, and a day's backlog would keep the hub failing
// connections.
func TestHopInRetry(t *testing.T) {
	const n = 20
	f := newFixture(t)
	f.now = time.Now().UTC().Round(time.Second) // queue list reads the real clock
	down, tried := queueToDownHop(t, f, 4, n)

	f.pass()
	first := tried.Load() // the workers that started before the first result came
	if first < 1 || first > 4 {
		t.Fatalf("first pass: %d messages handed to the connector, want 1 to 4 (the first workers; the rest wait for the hop)", first)
	}
	msgs, _ := f.s.Queue.List()
	attempted := 0
	for _, m := range msgs {
		r := m.Recipients[0]
		if r.NextHop != "connector:Internet@hub1" {
			t.Fatalf("%s: next hop %q, want it routed", m.ID, r.NextHop)
		}
		attempted += r.Attempts
	}
	if attempted != int(first) {
		t.Errorf("%d attempts counted on disk, want %d: a message waiting for its hop is not attempted", attempted, first)
	}
	if c := strings.Count(readTrack(t, f), `"event":"DEFER"`); c != int(first) {
		t.Errorf("%d DEFER events, want %d", c, first)
	}

	// Within the interval, nothing; the writes of a waiting message: none.
	f.now = f.now.Add(30 * time.Second)
	writes := f.writes.Load()
	f.pass()
	if got := tried.Load(); got != first {
		t.Errorf("within the glitch interval, %d messages tried, want still %d", got, first)
	}
	if w := f.writes.Load() - writes; w != 0 {
		t.Errorf("%d queue writes for messages waiting for their hop, want none", w)
	}

	// Past it: one probe, which fails; the hop waits another interval.
	f.now = f.now.Add(61 * time.Second)
	f.pass()
	if got := tried.Load(); got != first+1 {
		t.Errorf("after the glitch interval, %d messages tried in all, want %d (one probe)", got, first+1)
	}
	ql, _ := f.s.List(control.Select{})
	if len(ql.Queues) != 1 || ql.Queues[0].Messages != n {
		t.Fatalf("queues %+v, want the %d messages in one", ql.Queues, n)
	}
	if want := f.now.Add(time.Minute); !ql.Queues[0].NextRetry.Equal(want) {
		t.Errorf("queue list: next retry %v, want the hop's retry time %v", ql.Queues[0].NextRetry, want)
	}

	// The host is back: the next probe reaches it, and every message goes.
	down.Store(false)
	f.now = f.now.Add(61 * time.Second)
	f.pass()
	if msgs, _ := f.s.Queue.List(); len(msgs) != 0 {
		t.Fatalf("%d messages still queued after a probe reached the host", len(msgs))
	}
	if got := tried.Load(); got != first+1+n {
		t.Errorf("%d messages tried in all, want %d: each waiting one once, when the hop came back", got, first+1+n)
	}
}

// `queue retry` probes a hop in retry at once: when the host is back, the
// queue drains without waiting for the glitch interval.
func TestHopInRetryQueueRetry(t *testing.T) {
	const n = 10
	f := newFixture(t)
	down, tried := queueToDownHop(t, f, 2, n)
	f.pass()
	first := tried.Load()
	if first >= n {
		t.Fatalf("%d of %d messages tried while the host was down, want the hop in retry", first, n)
	}
	down.Store(false)
	f.now = f.now.Add(5 * time.Second) // well within the interval
	if _, err := f.s.Retry(control.Select{}, "tester"); err != nil {
		t.Fatal(err)
	}
	f.pass()
	if msgs, _ := f.s.Queue.List(); len(msgs) != 0 {
		t.Errorf("%d messages still queued after queue retry with the host back", len(msgs))
	}
}

// A message waiting for a hop in retry still gets its delay notification
// and expires on time: reports do not wait for a hop.
func TestHopInRetryReportsOnTime(t *testing.T) {
	f := newFixture(t)
	f.s.Workers = 1
	var down atomic.Bool
	down.Store(true)
	downConnector(f, &down)
	queueTo(t, f, "first@fabrikam.test")
	waiting := queueTo(t, f, "second@fabrikam.test")
	f.pass()
	f.now = f.now.Add(59*time.Minute + 59*time.Second) // message_expiration is 1h; the hop was probed meanwhile
	for range 3 {
		f.pass()
		f.now = f.now.Add(time.Second)
	}
	if _, err := f.s.Queue.Get(waiting); err == nil {
		t.Errorf("a message waiting for its hop outlived message_expiration")
	}
	var reports int
	msgs, _ := f.s.Queue.List()
	for _, m := range msgs {
		if m.From == "" {
			reports++
		}
	}
	if reports == 0 {
		t.Errorf("no report queued for the expired messages")
	}
}

// A message with recipients on other next hops is not held back by one in
// retry: its other recipients' attempts come when they are due, before the
// hop's retry time.
func TestHopInRetryOtherRecipients(t *testing.T) {
	f := newFixture(t)
	f.s.Workers = 1
	f.s.Rand = func() float64 { return 0 } // each retry 10% early: 54 s, before the hop's 60 s
	var down atomic.Bool
	down.Store(true)
	downConnector(f, &down)
	f.s.Mailbox = agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
		out := make([]delivery.Result, len(m.Recipients))
		for i := range out {
			out[i] = delivery.Result{Class: delivery.Retry, Status: "4.2.2", Text: "mailbox busy", RemoteText: "452 4.2.2 busy"}
		}
		return out
	})
	queueTo(t, f, "first@fabrikam.test") // puts the hop in retry
	f.pass()
	id := queueTo(t, f, "second@fabrikam.test", "alice@contoso.test")
	f.pass()
	m, err := f.s.Queue.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Recipients[0].Attempts != 0 || m.Recipients[1].Attempts != 1 {
		t.Fatalf("attempts %d (hop in retry) and %d (mailbox), want 0 and 1", m.Recipients[0].Attempts, m.Recipients[1].Attempts)
	}
	f.s.mu.Lock()
	due := f.s.entries[id].due
	f.s.mu.Unlock()
	if want := m.Recipients[1].NextAttempt; !due.Equal(want) {
		t.Errorf("message due %v, want %v: its mailbox recipient's retry, not the hop's (%v)", due, want, f.now.Add(time.Minute))
	}
}
