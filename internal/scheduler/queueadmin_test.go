package scheduler

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/routing"
)

// adminHub is the scheduler fixture, for the queue administration that
// the control socket serves.
func adminHub(t *testing.T) (*Scheduler, *fixture) {
	t.Helper()
	f := newFixture(t)
	return f.s, f
}

// queueTo adds a message from bob to rcpts and returns its ID.
func queueTo(t *testing.T, f *fixture, rcpts ...string) string {
	t.Helper()
	env := queue.Envelope{From: "bob@fabrikam.test", Arrival: f.now}
	for _, r := range rcpts {
		env.Recipients = append(env.Recipients, queue.Recipient{Written: r, Type: "SMTP", Address: r})
	}
	m, err := f.add(env, strings.NewReader("Subject: queued\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func get(t *testing.T, f *fixture, id string) *queue.Message {
	t.Helper()
	m, err := f.s.Queue.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readTrack(t *testing.T, f *fixture) string {
	t.Helper()
	b, _ := os.ReadFile(f.track)
	return string(b)
}

func TestHoldIsNeverAttemptedNorExpired(t *testing.T) {
	h, f := adminHub(t)
	id := queueTo(t, f, "carol@fabrikam.test")
	f.s.RunOnce(context.Background())
	if r := get(t, f, id).Recipients[0]; r.Attempts != 1 {
		t.Fatalf("first pass: %+v", r)
	}
	a, err := h.Hold(control.Select{IDs: []string{id}}, "tester (uid 1)")
	if err != nil || a.Recipients != 1 || len(a.Messages) != 1 {
		t.Fatalf("hold: %+v %v", a, err)
	}
	if a, _ := h.Hold(control.Select{IDs: []string{id}}, "tester"); a.Recipients != 0 {
		t.Errorf("holding a held recipient again changed %d", a.Recipients)
	}
	// Past its retry time and past expiry (1h): left alone.
	f.now = f.now.Add(2 * time.Hour)
	f.s.RunOnce(context.Background())
	r := get(t, f, id).Recipients[0]
	if r.State != queue.Pending || !r.Held || r.Attempts != 1 {
		t.Fatalf("held recipient after 2h: %+v", r)
	}
	ql, err := h.List(control.Select{})
	if err != nil || len(ql.Queues) != 1 || ql.Queues[0].Held != 1 || !ql.Queues[0].NextRetry.IsZero() {
		t.Errorf("listing of a held queue: %+v %v", ql, err)
	}
	if ql, _ := h.List(control.Select{Messages: true, State: "held"}); len(ql.Messages) != 1 || ql.Messages[0].Recipients[0].State != "held" {
		t.Errorf("--state held: %+v", ql)
	}
	// Released past its expiry, it expires at the next pass (4.4.7 to bob).
	if a, err := h.Release(control.Select{IDs: []string{id}}, "tester"); err != nil || a.Recipients != 1 {
		t.Fatalf("release: %+v %v", a, err)
	}
	if r := get(t, f, id).Recipients[0]; r.Held || !r.NextAttempt.IsZero() {
		t.Errorf("released: %+v", r)
	}
	f.s.RunOnce(context.Background())
	if _, err := f.s.Queue.Get(id); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("the expired message is still queued: %v", err)
	}
	tr := readTrack(t, f)
	for _, want := range []string{`"event":"HOLD"`, `"actor":"tester (uid 1)"`, `"event":"RELEASE"`, `"status":"4.4.7"`} {
		if !strings.Contains(tr, want) {
			t.Errorf("tracking log lacks %s:\n%s", want, tr)
		}
	}
}

func TestRetryResetsBackoff(t *testing.T) {
	h, f := adminHub(t)
	id := queueTo(t, f, "carol@fabrikam.test")
	// Five attempts: past the four glitch retries (1m), the next waits 5m.
	for range 5 {
		f.s.RunOnce(context.Background())
		f.now = get(t, f, id).Recipients[0].NextAttempt
	}
	r := get(t, f, id).Recipients[0]
	if r.Attempts != 5 || r.NextAttempt.Sub(r.LastAttempt) != 5*time.Minute {
		t.Fatalf("after five attempts: %+v", r)
	}
	f.now = r.LastAttempt.Add(time.Second)
	a, err := h.Retry(control.Select{Queue: "connector:Internet@hub1"}, "tester")
	if err != nil || a.Recipients != 1 {
		t.Fatalf("retry: %+v %v", a, err)
	}
	f.s.RunOnce(context.Background())
	r = get(t, f, id).Recipients[0]
	if r.Attempts != 6 || r.BackoffFrom != 5 || r.NextAttempt.Sub(r.LastAttempt) != time.Minute {
		t.Errorf("after retry: attempts %d, backoff from %d, next in %s; want 6, 5, 1m", r.Attempts, r.BackoffFrom, r.NextAttempt.Sub(r.LastAttempt))
	}
	// A held recipient is left alone by retry, and said so.
	h.Hold(control.Select{All: true}, "tester")
	a, _ = h.Retry(control.Select{}, "tester")
	if a.Recipients != 0 || len(a.Skipped) != 1 || !strings.Contains(a.Skipped[0], "1 held") {
		t.Errorf("retry of held mail: %+v", a)
	}
}

func TestReroute(t *testing.T) {
	h, f := adminHub(t)
	id := queueTo(t, f, "carol@fabrikam.test", "dave@example.org")
	f.s.RunOnce(context.Background())
	// A reload adds a connector for fabrikam.test.
	org, err := config.Parse([]byte(orgText+`
[[send_connector]]
name = "Fabrikam"
address_spaces = ["SMTP:fabrikam.test;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", smart_hosts = ["127.0.0.1:1"] }
`), "org.toml", f.dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := directory.NewMemory(org.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	h.Engine.Store(routing.New(org, d))
	a, err := h.Reroute(control.Select{}, "tester")
	if err != nil || a.Recipients != 1 || len(a.Moves) != 1 {
		t.Fatalf("reroute: %+v %v", a, err)
	}
	if mv := a.Moves[0]; mv.ID != id || mv.Recipient != "SMTP:carol@fabrikam.test" || mv.From != "connector:Internet@hub1" || mv.To != "connector:Fabrikam@hub1" {
		t.Errorf("move: %+v", mv)
	}
	m := get(t, f, id)
	if c, d := m.Recipients[0], m.Recipients[1]; !c.NextAttempt.IsZero() || d.NextAttempt.IsZero() {
		t.Errorf("only the moved recipient is due now: %+v / %+v", c, d)
	}
	f.s.RunOnce(context.Background())
	if m := get(t, f, id); m.Recipients[0].NextHop != "connector:Fabrikam@hub1" || m.Recipients[1].NextHop != "connector:Internet@hub1" {
		t.Errorf("after the pass: %s / %s", m.Recipients[0].NextHop, m.Recipients[1].NextHop)
	}
	if tr := readTrack(t, f); !strings.Contains(tr, `"event":"REROUTE"`) || !strings.Contains(tr, `connector:Internet@hub1 -> connector:Fabrikam@hub1`) {
		t.Errorf("tracking log:\n%s", tr)
	}
}

func TestRemove(t *testing.T) {
	h, f := adminHub(t)
	silent := queueTo(t, f, "carol@fabrikam.test")
	loud := queueTo(t, f, "dave@example.org", "erin@example.org")
	f.s.RunOnce(context.Background())

	if _, err := h.Remove(context.Background(), control.Select{}, "tester"); err == nil {
		t.Error("remove without IDs was accepted")
	}
	if _, err := h.Remove(context.Background(), control.Select{IDs: []string{"0123456789abcdef-0123456789ab"}}, "tester"); err == nil || !strings.Contains(err.Error(), "not in the queue") {
		t.Errorf("remove of an unknown ID: %v", err)
	}
	// A delivery under way: removal waits for it.
	claimed, _ := f.s.claim(silent)
	done := make(chan error, 1)
	go func() {
		_, err := h.Remove(context.Background(), control.Select{IDs: []string{silent}}, "tester")
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if _, err := f.s.Queue.Get(silent); err != nil {
		t.Fatal("removed while a delivery was under way")
	}
	f.s.unclaim(claimed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Queue.Get(silent); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("silent remove left the message: %v", err)
	}
	msgs, _ := f.s.Queue.List()
	if len(msgs) != 1 || msgs[0].ID != loud {
		t.Fatalf("a silent remove queued something: %d messages", len(msgs))
	}

	a, err := h.Remove(context.Background(), control.Select{IDs: []string{loud}, NDR: true}, "tester")
	if err != nil || a.Recipients != 2 {
		t.Fatalf("remove --ndr: %+v %v", a, err)
	}
	msgs, _ = f.s.Queue.List()
	if len(msgs) != 1 || msgs[0].From != "" || msgs[0].Recipients[0].Address != "bob@fabrikam.test" {
		t.Fatalf("want one report to bob in the queue, got %+v", msgs)
	}
	rc, _ := f.s.Queue.Open(msgs[0].ID)
	body, _ := io.ReadAll(rc)
	rc.Close()
	for _, want := range []string{"Status: 5.3.0", "Final-Recipient: rfc822;dave@example.org", "Final-Recipient: rfc822;erin@example.org", "QUEUE.Admin", "An administrator removed the message"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	tr := readTrack(t, f)
	if strings.Count(tr, `"event":"REMOVE"`) != 2 || strings.Count(tr, `"status":"5.3.0"`) != 2 {
		t.Errorf("tracking log:\n%s", tr)
	}
}

func TestSelect(t *testing.T) {
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	m := &queue.Message{ID: "x", Envelope: queue.Envelope{From: "Bob@Fabrikam.test", Arrival: now.Add(-time.Hour)}}
	smtp := &queue.Recipient{Written: "carol@example.org", Type: "SMTP", Address: "carol@Example.org", State: queue.Pending, NextHop: "connector:Internet@hub1", Attempts: 2}
	fax := &queue.Recipient{Written: "IMCEAFAX-+2B1+20555@contoso.test", Type: "FAX", Address: "+1 555", State: queue.Pending, Held: true}
	for _, tc := range []struct {
		sel        control.Select
		msg        bool
		smtp, fax  bool
		errContain string
	}{
		{sel: control.Select{}, msg: true, smtp: true, fax: true},
		{sel: control.Select{Sender: "bob@fabrikam"}, msg: true, smtp: true, fax: true},
		{sel: control.Select{Sender: "alice"}, msg: false},
		{sel: control.Select{OlderThan: "30m"}, msg: true, smtp: true, fax: true},
		{sel: control.Select{OlderThan: "2h"}, msg: false},
		{sel: control.Select{Domain: "example.org"}, msg: true, smtp: true},
		{sel: control.Select{Domain: "@EXAMPLE.org"}, msg: true, smtp: true},
		{sel: control.Select{Domain: "contoso.test"}, msg: true, fax: true},
		{sel: control.Select{Type: "fax"}, msg: true, fax: true},
		{sel: control.Select{State: "held"}, msg: true, fax: true},
		{sel: control.Select{State: "retry"}, msg: true, smtp: true},
		{sel: control.Select{Queue: "submission"}, msg: true, fax: true},
		{sel: control.Select{NextHop: "connector:Internet@hub1"}, msg: true, smtp: true},
		{sel: control.Select{Recipient: "CAROL"}, msg: true, smtp: true},
		{sel: control.Select{State: "frozen"}, errContain: "ready, retry, held"},
		{sel: control.Select{OlderThan: "yesterday"}, errContain: "not a duration"},
		{sel: control.Select{Queue: "a", NextHop: "b"}, errContain: "give one queue"},
	} {
		s, err := compileSelect(tc.sel, now)
		if tc.errContain != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errContain) {
				t.Errorf("%+v: error %v, want %q", tc.sel, err, tc.errContain)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", tc.sel, err)
			continue
		}
		if got := s.message(m); got != tc.msg {
			t.Errorf("%+v: message %v, want %v", tc.sel, got, tc.msg)
		}
		if !tc.msg {
			continue
		}
		if got := s.rcpt(m, smtp); got != tc.smtp {
			t.Errorf("%+v: SMTP recipient %v, want %v", tc.sel, got, tc.smtp)
		}
		if got := s.rcpt(m, fax); got != tc.fax {
			t.Errorf("%+v: FAX recipient %v, want %v", tc.sel, got, tc.fax)
		}
	}
}
