package hub

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/smtpd"
	"github.com/waypost/waypost/internal/tracking"
)

// events returns the tracking log's events by message ID, in order.
func events(t *testing.T, dir string) map[string][]tracking.Event {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "data", "tracking.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]tracking.Event{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e tracking.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		out[e.ID] = append(out[e.ID], e)
	}
	return out
}

// startsWithReceive fails unless the history of id starts with RECEIVE
// and has a DELIVER.
func startsWithReceive(t *testing.T, id string, evs []tracking.Event) {
	t.Helper()
	var names []string
	for _, e := range evs {
		names = append(names, e.Event)
	}
	if len(evs) == 0 || evs[0].Event != tracking.Receive || !strings.Contains(strings.Join(names, " "), tracking.Deliver) {
		t.Errorf("history of %s: %v, want RECEIVE first and a DELIVER", id, names)
	}
}

// Every delivered message's history starts with RECEIVE: the receive
// path writes it once the message is durable and before the scheduler,
// running, can deliver it.
func TestReceiveComesBeforeDeliver(t *testing.T) {
	dir := t.TempDir()
	org, err := config.Parse([]byte(contactOrg), filepath.Join(dir, "org.toml"), dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(org, "hub1", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.sched.Run(ctx); close(done) }()
	var ids []string
	for range 30 {
		env := smtpd.Envelope{From: "bob@fabrikam.test", Receiver: "Default", Arrival: time.Now(), Recipients: []smtpd.Recipient{
			{Written: "alice@contoso.test", Decision: routing.Decision{Type: "SMTP", Address: "alice@contoso.test"}}}}
		id, err := queueAdapter{h}.Add(env, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, n, _ := h.sched.QueueStats(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not delivered after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	evs := events(t, dir)
	for _, id := range ids {
		startsWithReceive(t, id, evs[id])
	}
}

// A message made durable just before a crash, whose RECEIVE was never
// written, gets one ("recovered after a crash") at the next start, before
// it is delivered.
func TestRecoveredMessageGetsReceive(t *testing.T) {
	dir := t.TempDir()
	org, err := config.Parse([]byte(contactOrg), filepath.Join(dir, "org.toml"), dir)
	if err != nil {
		t.Fatal(err)
	}
	// The process that accepted it died before writing RECEIVE.
	q, _, err := queue.Open(filepath.Join(dir, "data", "queue"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := q.Add(queue.Envelope{From: "bob@fabrikam.test", ReceivedBy: "Default", Recipients: []queue.Recipient{
		{Written: "alice@contoso.test", Type: "SMTP", Address: "alice@contoso.test"}}}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	q.Close()

	h, err := Open(org, "hub1", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	h.sched.RunOnce(context.Background())
	evs := events(t, dir)[m.ID]
	startsWithReceive(t, m.ID, evs)
	if len(evs) > 0 && !strings.Contains(evs[0].Detail, "recovered after a crash") {
		t.Errorf("RECEIVE detail %q does not say it was recovered", evs[0].Detail)
	}
}

// After a clean stop, a message queued and never attempted is not taken
// for one that a crash left without its RECEIVE: the stopped hub wrote
// its events before its 250, and the next start writes no "recovered
// after a crash" for it. Run ends by telling the queue so (CloseClean);
// a crash, or a Close without Run, does not.
func TestCleanStopWritesNoRecoveredReceive(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "org.toml")
	write(t, file, contactOrg)
	org, _, err := LoadOrg(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(org, "hub1", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !h.sched.Started() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	q, rec, err := queue.Open(filepath.Join(dir, "data", "queue"))
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Clean {
		t.Errorf("the queue after Run ended: Recovery %+v, want Clean", rec)
	}
	// A message the stopped hub had queued, never attempted (here put in
	// the queue by hand, with the clean stop noted again).
	m, err := q.Add(queue.Envelope{From: "bob@fabrikam.test", ReceivedBy: "Default", Recipients: []queue.Recipient{
		{Written: "alice@contoso.test", Type: "SMTP", Address: "alice@contoso.test"}}}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.CloseClean(); err != nil {
		t.Fatal(err)
	}

	h, err = Open(org, "hub1", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h.sched.RunOnce(context.Background())
	h.close() // no Run: not a clean stop
	for _, e := range events(t, dir)[m.ID] {
		if e.Event == tracking.Receive {
			t.Errorf("after a clean stop, the next start wrote %s %q", e.Event, e.Detail)
		}
	}
	if len(events(t, dir)[m.ID]) == 0 {
		t.Errorf("the message was not processed after the restart")
	}
	q, rec, err = queue.Open(filepath.Join(dir, "data", "queue"))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if rec.Clean {
		t.Errorf("the queue after a hub closed without Run: Recovery %+v, want not Clean", rec)
	}
}
