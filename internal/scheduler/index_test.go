package scheduler

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/queue"
)

// After start-up nothing lists the queue folder or decodes a record:
// deliveries, retries, new mail, reports, administration, the queue list
// and the metrics all work from the index.
func TestNothingReadsTheQueueAfterStart(t *testing.T) {
	f := newFixture(t)
	f.s.Connector = func(string) delivery.Agent {
		return agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
			return []delivery.Result{{Class: delivery.Retry, Status: "4.4.1", Text: "no answer"}}
		})
	}
	for range 3 {
		queueTo(t, f, "carol@fabrikam.test", "alice@contoso.test")
	}
	f.restart(t) // the index comes from the start-up scan
	listings, decodes := f.s.Queue.Reads()
	if decodes != 3 {
		t.Fatalf("the start-up scan decoded %d records, want 3", decodes)
	}

	f.s.RunOnce(context.Background()) // alice delivered, carol deferred
	queueTo(t, f, "nobody@contoso.test")
	f.s.RunOnce(context.Background()) // a failure, its report queued
	f.s.RunOnce(context.Background()) // the report to bob@fabrikam.test deferred too
	f.now = f.now.Add(2 * time.Minute)
	f.s.RunOnce(context.Background()) // carol's retries
	if ql, err := f.s.List(control.Select{}); err != nil || len(ql.Queues) != 1 || ql.Queues[0].Messages != 4 {
		t.Errorf("queue list: %+v %v", ql, err)
	}
	if ql, err := f.s.List(control.Select{Messages: true, Recipient: "carol"}); err != nil || len(ql.Messages) != 3 {
		t.Errorf("queue list --messages: %+v %v", ql, err)
	}
	stats, total, _ := f.s.QueueStats()
	if total != 4 || len(stats) != 1 || stats[0].Recipients != 4 {
		t.Errorf("metrics: %+v, %d messages", stats, total)
	}
	a, err := f.s.Hold(control.Select{All: true}, "tester")
	if err != nil || a.Recipients != 4 {
		t.Fatalf("hold: %+v %v", a, err)
	}
	f.s.Release(control.Select{All: true}, "tester")
	f.s.Retry(control.Select{All: true}, "tester")
	f.s.RunOnce(context.Background())
	id := a.Messages[0]
	if _, err := f.s.Describe(id); err != nil {
		t.Error(err)
	}
	c, err := f.s.OpenContent(id)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, c)
	c.Close()
	if _, err := f.s.Remove(context.Background(), control.Select{IDs: []string{id}, NDR: true}, "tester"); err != nil {
		t.Fatal(err)
	}
	f.s.RunOnce(context.Background())

	if l, d := f.s.Queue.Reads(); l != listings || d != decodes {
		t.Errorf("after start-up the queue folder was listed %d times and %d records decoded, want none", l-listings, d-decodes)
	}
	// What the index holds is what is on disk.
	msgs, _ := f.s.Queue.List()
	if _, n, _ := f.s.QueueStats(); len(msgs) != n || n != 4 {
		t.Fatalf("%d messages on disk, %d in the index, want 4", len(msgs), n)
	}
	for _, m := range msgs {
		if got := f.s.record(m.ID); got == nil || got.Recipients[0].Attempts != m.Recipients[0].Attempts {
			t.Errorf("index and disk differ for %s: %+v / %+v", m.ID, got, m)
		}
	}
}

// The due time of a message is the earliest of its pending recipients'
// next attempts, delay notices and expiry; held recipients are never due.
func TestDueTime(t *testing.T) {
	f := newFixture(t)
	org := f.s.Engine.Load().Org() // delay 30m, expiry 1h
	at := f.now
	m := &queue.Message{ID: "x", Envelope: queue.Envelope{Arrival: at, Recipients: []queue.Recipient{
		{State: queue.Pending, NextAttempt: at.Add(40 * time.Minute), DelayNotified: true},
		{State: queue.Pending, NextAttempt: at.Add(10 * time.Minute), Held: true},
		{State: queue.Delivered},
	}}}
	if got := dueTime(m, org); !got.Equal(at.Add(40 * time.Minute)) {
		t.Errorf("due %v, want the next attempt", got)
	}
	m.Recipients[0].NextAttempt = at.Add(2 * time.Hour)
	if got := dueTime(m, org); !got.Equal(at.Add(time.Hour)) {
		t.Errorf("due %v, want the expiry", got)
	}
	m.Recipients[0].DelayNotified = false
	if got := dueTime(m, org); !got.Equal(at.Add(30 * time.Minute)) {
		t.Errorf("due %v, want the delay notice", got)
	}
	m.Recipients[0].Held = true
	if got := dueTime(m, org); !got.IsZero() {
		t.Errorf("due %v with every pending recipient held, want never", got)
	}
	m.Recipients[0].State, m.Recipients[1].State = queue.Delivered, queue.Failed
	if got := dueTime(m, org); got.After(at) {
		t.Errorf("due %v with every recipient final, want now", got)
	}
	m.Recipients[0] = queue.Recipient{State: queue.Pending}
	m.Poison = "crashed"
	if got := dueTime(m, org); !got.IsZero() {
		t.Errorf("a poison message is due %v", got)
	}
}

// A recipient whose next attempt lies past its message's expiry (the
// expiry was made shorter by a reload) expires at the expiry, not at its
// next attempt, and is not processed again and again meanwhile.
func TestExpiryBeforeNextAttempt(t *testing.T) {
	f := newFixture(t)
	var calls int
	f.s.Connector = func(string) delivery.Agent {
		return agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
			calls++
			return []delivery.Result{{Class: delivery.Retry, Status: "4.4.1", Text: "no answer"}}
		})
	}
	m, err := f.add(queue.Envelope{From: "", Arrival: f.now, Recipients: []queue.Recipient{{Written: "carol@fabrikam.test", Type: "SMTP",
		Address: "carol@fabrikam.test", NextAttempt: f.now.Add(2 * time.Hour), Attempts: 1, Last: queue.Result{Class: queue.ClassRetry}}}},
		strings.NewReader("Subject: hi\r\n\r\nx\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(61 * time.Minute) // message_expiration is 1h
	f.s.RunOnce(context.Background())
	if _, err := f.s.Queue.Get(m.ID); err == nil || calls != 0 {
		t.Errorf("not expired at its expiry (still queued: %v, %d deliveries)", err == nil, calls)
	}
}
