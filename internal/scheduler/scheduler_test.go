package scheduler

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/tracking"
)

const orgText = `
[organization]
default_domain = "contoso.test"
message_expiration = "1h"
delay_notification = "30m"
[[accepted_domain]]
domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", smart_hosts = ["127.0.0.1:1"] }
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test", "smtp:a@contoso.test"]
[[recipient]]
kind = "group"
name = "Sales"
addresses = ["SMTP:sales@contoso.test"]
members = ["a@contoso.test", "alice@contoso.test"]
`

type fixture struct {
	full   atomic.Bool                           // the queue's disk is full
	writes atomic.Int64                          // the queue's file creations, writes and renames
	onOp   atomic.Pointer[func(op, path string)] // sees the queue's file operations
	s      *Scheduler
	now    time.Time
	dir    string
	track  string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureOrg(t, orgText)
}

// newFixtureOrg is newFixture for the organization text, whose scheduler
// is hub1.
func newFixtureOrg(t testing.TB, text string) *fixture {
	t.Helper()
	dir := t.TempDir()
	org, err := config.Parse([]byte(text), "org.toml", dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := directory.NewMemory(org.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	var eng atomic.Pointer[routing.Engine]
	eng.Store(routing.New(org, d))
	trackPath := filepath.Join(dir, "tracking.log")
	tl, err := tracking.Open(trackPath, "hub1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	f := &fixture{now: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC), dir: dir, track: trackPath}
	f.s = &Scheduler{Server: "hub1", Engine: &eng, Track: tl,
		Mailbox: &delivery.Maildir{Root: filepath.Join(dir, "mailboxes"), Hostname: "hub1"},
		Log:     slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		Now:     func() time.Time { return f.now }, Rand: func() float64 { return 0.5 }}
	f.open(t)
	return f
}

// open opens the fixture's queue, filling the scheduler's index.
func (f *fixture) open(t testing.TB) {
	t.Helper()
	q, _, err := queue.OpenWith(filepath.Join(f.dir, "queue"), queue.Options{Scan: f.s.Load, Fault: f.fault})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	f.s.Queue = q
}

// restart starts a new scheduler, as a new process would, over the same
// queue folder (which the old one must not use any more).
func (f *fixture) restart(t *testing.T) {
	t.Helper()
	old := f.s
	old.Close()
	old.Queue.Close()
	f.s = &Scheduler{Server: old.Server, Engine: old.Engine, Track: old.Track, Mailbox: old.Mailbox, Connector: old.Connector,
		Relay: old.Relay, Log: old.Log, Now: old.Now, Rand: old.Rand, Workers: old.Workers}
	f.open(t)
}

// add queues a message as the receive path does.
func (f *fixture) add(env queue.Envelope, body io.Reader) (*queue.Message, error) {
	return f.s.Add(env, body, nil)
}

// fault fails the queue's file operations while f.full is set, as a
// full disk does (ENOSPC); removals still work.
func (f *fixture) fault(op, path string) error {
	switch op {
	case "create", "write", "rename", "append":
		f.writes.Add(1)
	}
	if fn := f.onOp.Load(); fn != nil {
		(*fn)(op, path)
	}
	if f.full.Load() && op != "remove" && op != "syncdir" {
		return syscall.ENOSPC
	}
	return nil
}

func (f *fixture) inbox(t *testing.T, folder string) []string {
	t.Helper()
	dir := filepath.Join(f.dir, "mailboxes", folder, "Maildir", "new")
	files, _ := os.ReadDir(dir)
	var out []string
	for _, fi := range files {
		b, err := os.ReadFile(filepath.Join(dir, fi.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestScheduler(t *testing.T) {
	f := newFixture(t)
	env := queue.Envelope{From: "bob@fabrikam.test", Arrival: f.now, Recipients: []queue.Recipient{
		{Written: "alice@contoso.test", Type: "SMTP", Address: "alice@contoso.test"},
		{Written: "sales@contoso.test", Type: "SMTP", Address: "sales@contoso.test"},
		{Written: "nobody@contoso.test", Type: "SMTP", Address: "nobody@contoso.test"},
		{Written: "carol@fabrikam.test", Type: "SMTP", Address: "carol@fabrikam.test"},
	}}
	m, err := f.add(env, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.s.RunOnce(context.Background())

	// Alice once, though she is a recipient and twice a member of Sales.
	box := f.inbox(t, delivery.Folder("alice@contoso.test"))
	if len(box) != 1 || !strings.HasPrefix(box[0], "Return-Path: <bob@fabrikam.test>\r\n") || !strings.HasSuffix(box[0], "hello\r\n") {
		t.Fatalf("alice's Maildir: %q", box)
	}
	got, err := f.s.Queue.Get(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]queue.State{}
	for _, r := range got.Recipients {
		states[r.Address] = r.State
	}
	want := map[string]queue.State{"alice@contoso.test": queue.Delivered, "sales@contoso.test": queue.Expanded, "nobody@contoso.test": queue.Failed, "carol@fabrikam.test": queue.Pending}
	for a, st := range want {
		if states[a] != st {
			t.Errorf("%s: %s, want %s (all: %v)", a, states[a], st, states)
		}
	}
	if len(got.Recipients) != 4 {
		t.Errorf("group members already present were added again: %d recipients", len(got.Recipients))
	}
	carol := got.Recipients[3]
	if carol.Attempts != 1 || !carol.NextAttempt.After(f.now) || carol.Last.Class != queue.ClassRetry {
		t.Errorf("carol's attempt not recorded: %+v", carol)
	}

	// Nothing due: a second pass changes nothing.
	f.s.RunOnce(context.Background())
	if box := f.inbox(t, delivery.Folder("alice@contoso.test")); len(box) != 1 {
		t.Fatalf("delivered again: %d", len(box))
	}

	// Carol's retry routes her again, to the same place: no new ROUTE line.
	f.now = carol.NextAttempt.Add(time.Second)
	f.s.RunOnce(context.Background())

	// After message_expiration the waiting recipient fails with 4.4.7 and
	// the message leaves the queue.
	f.now = f.now.Add(time.Hour + time.Minute)
	f.s.RunOnce(context.Background())
	if _, err := f.s.Queue.Get(m.ID); err == nil {
		t.Error("expired message still queued")
	}
	r, _ := os.Open(f.track)
	defer r.Close()
	var events []string
	var expiry string
	tracking.Search(r, tracking.Filter{ID: m.ID}, func(e tracking.Event) {
		events = append(events, e.Event+" "+e.Recipient+" "+e.Status)
		if e.Event == tracking.Fail && e.Status == "4.4.7" {
			expiry = e.Detail
		}
	}, nil)
	// The expiry keeps what the last attempt met, for the report.
	if !strings.Contains(expiry, "Queue expired; Message expired; last attempt: ") || !strings.Contains(expiry, "kept queued") {
		t.Errorf("expiry detail %q lacks the last attempt's error", expiry)
	}
	joined := strings.Join(events, "\n")
	// Every event names a recipient the same way, TYPE:address.
	for _, w := range []string{"DELIVER SMTP:alice@contoso.test 2.0.0", "EXPAND SMTP:sales@contoso.test", "FAIL SMTP:nobody@contoso.test 5.1.1", "DEFER SMTP:carol@fabrikam.test", "FAIL SMTP:carol@fabrikam.test 4.4.7",
		"RESOLVE SMTP:alice@contoso.test", "ROUTE SMTP:alice@contoso.test", "ROUTE SMTP:carol@fabrikam.test"} {
		if !strings.Contains(joined, w) {
			t.Errorf("tracking log lacks %q:\n%s", w, joined)
		}
	}
	// A recipient is routed once, not again at each attempt with the
	// same outcome.
	if n := strings.Count(joined, "ROUTE SMTP:carol@fabrikam.test"); n != 1 {
		t.Errorf("carol routed %d times in the log, want 1:\n%s", n, joined)
	}
	if n := strings.Count(joined, "DEFER SMTP:carol@fabrikam.test"); n != 2 {
		t.Errorf("carol deferred %d times in the log, want 2:\n%s", n, joined)
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// agentFunc is a delivery agent made of a function, for tests that look
// at what the scheduler has written when the delivery starts.
type agentFunc func(ctx context.Context, m *delivery.Message) []delivery.Result

func (f agentFunc) Deliver(ctx context.Context, m *delivery.Message) []delivery.Result {
	return f(ctx, m)
}

// A message taken in by Scheduler.Add is delivered from memory: its
// record is not read back nor written again before the delivery, and the
// attempt is written once, after it, with its result.
func TestOneWriteAfterTheAttempt(t *testing.T) {
	f := newFixture(t)
	// Add writes the record into the queue file; a rewrite goes to meta/.
	rewritten := func(id string) bool {
		_, err := os.Stat(filepath.Join(f.dir, "queue", "meta", id+".json"))
		return err == nil
	}
	var mu sync.Mutex
	seen := map[string]bool{} // message ID -> its record was rewritten when its delivery started
	f.s.Connector = func(string) delivery.Agent {
		return agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
			mu.Lock()
			seen[m.ID] = rewritten(m.ID)
			mu.Unlock()
			return []delivery.Result{{Class: delivery.Retry, Status: "4.4.1", Text: "no answer"}}
		})
	}
	env := queue.Envelope{From: "alice@contoso.test", Recipients: []queue.Recipient{{Written: "carol@fabrikam.test", Type: "SMTP", Address: "carol@fabrikam.test"}}}
	m, err := f.add(env, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, decodes := f.s.Queue.Reads()
	f.s.RunOnce(context.Background())
	rw, ok := seen[m.ID]
	if !ok {
		t.Fatal("the new message was not delivered at once")
	}
	if rw {
		t.Error("the record was rewritten before the delivery")
	}
	if _, d := f.s.Queue.Reads(); d != decodes {
		t.Errorf("%d records decoded to deliver a message just added", d-decodes)
	}
	got, _ := f.s.Queue.Get(m.ID)
	if r := got.Recipients[0]; r.Attempts != 1 || r.Last.Status != "4.4.1" || !r.NextAttempt.After(f.now) {
		t.Errorf("after the first attempt: %+v", r)
	}
}

// The tracking events of an attempt are written before the queue's record
// of it (the record rewritten, or the message removed): a crash in
// between must leave an event twice, not a delivery the history never
// shows.
func TestTrackedBeforeRecorded(t *testing.T) {
	f := newFixture(t)
	f.s.Connector = func(string) delivery.Agent {
		return agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
			return []delivery.Result{{Class: delivery.Retry, Status: "4.4.1", Text: "no answer"}}
		})
	}
	delivered, err := f.add(queue.Envelope{From: "bob@fabrikam.test", Recipients: []queue.Recipient{
		{Written: "alice@contoso.test", Type: "SMTP", Address: "alice@contoso.test"}}}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	deferred, err := f.add(queue.Envelope{From: "alice@contoso.test", Recipients: []queue.Recipient{
		{Written: "carol@fabrikam.test", Type: "SMTP", Address: "carol@fabrikam.test"}}}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	tracked := map[string]string{} // message ID -> its events in the tracking log at its first queue write
	hook := func(op, path string) {
		if op != "remove" && op != "create" && op != "rename" && op != "append" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, id := range []string{delivered.ID, deferred.ID} {
			if _, ok := tracked[id]; ok || !strings.Contains(path, id) {
				continue
			}
			b, _ := os.ReadFile(f.track)
			var evs []string
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, id) {
					var e tracking.Event
					if json.Unmarshal([]byte(line), &e) == nil {
						evs = append(evs, e.Event)
					}
				}
			}
			tracked[id] = strings.Join(evs, " ")
		}
	}
	f.onOp.Store(&hook)
	f.s.RunOnce(context.Background())
	f.onOp.Store(nil)
	mu.Lock()
	defer mu.Unlock()
	for id, want := range map[string]string{delivered.ID: tracking.Deliver, deferred.ID: tracking.Defer} {
		got, ok := tracked[id]
		switch {
		case !ok:
			t.Errorf("%s: no queue write seen after its attempt", id)
		case !strings.Contains(" "+got+" ", " "+want+" "):
			t.Errorf("%s: the tracking log held %q when the queue recorded the attempt, want %s in it", id, got, want)
		}
	}
}
