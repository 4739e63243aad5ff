package tracking

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestWriteAndSearch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracking.log")
	l, err := Open(path, "hub-hq")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	events := []Event{
		{Time: t0, Event: Receive, ID: "q1", MessageID: "<m1@x>", Sender: "alice@contoso.test", Recipient: "bob@contoso.test"},
		{Time: t0.Add(time.Second), Event: Route, ID: "q1", Recipient: "bob@contoso.test", NextHop: "hub-branch"},
		{Time: t0.Add(2 * time.Second), Event: Deliver, ID: "q1", Recipient: "bob@contoso.test", Status: "2.0.0"},
		{Time: t0.Add(time.Hour), Event: Receive, ID: "q2", Sender: "carol@fabrikam.test", Recipient: "alice@contoso.test"},
		{Time: t0.Add(time.Hour + time.Second), Event: Fail, ID: "q2", Recipient: "nobody@contoso.test", Status: "5.1.1"},
	}
	var wg sync.WaitGroup
	for _, e := range events[:3] {
		if err := l.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	wg.Add(2)
	for _, e := range events[3:] {
		go func() { defer wg.Done(); l.Write(e) }()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A torn last line, as a crash may leave.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-11-29T10:00:00Z","eve`)
	f.Close()

	count := func(flt Filter) int {
		r, _ := os.Open(path)
		defer r.Close()
		n, badLines := 0, 0
		if err := Search(r, flt, func(e Event) {
			n++
			if e.Server != "hub-hq" {
				t.Errorf("server not recorded: %+v", e)
			}
		}, func(int, error) { badLines++ }); err != nil {
			t.Fatal(err)
		}
		if badLines != 1 {
			t.Errorf("want the torn line reported once, got %d", badLines)
		}
		return n
	}
	for _, tc := range []struct {
		f    Filter
		want int
	}{
		{Filter{}, 5},
		{Filter{ID: "q1"}, 3},
		{Filter{Recipient: "BOB"}, 3},
		{Filter{Sender: "carol"}, 1},
		{Filter{Event: "deliver"}, 1},
		{Filter{MessageID: "m1@x"}, 1},
		{Filter{Since: t0.Add(30 * time.Minute)}, 2},
		{Filter{Until: t0.Add(time.Second)}, 2},
	} {
		if got := count(tc.f); got != tc.want {
			t.Errorf("%+v: %d events, want %d", tc.f, got, tc.want)
		}
	}
	if err := l.Write(Event{Event: Send}); err == nil {
		t.Error("write after close succeeded")
	}
}

// Message-IDs are written as people search for them, <x@y>, not with
// JSON's HTML escapes (\u003c), so that grep finds them in the file.
func TestAngleBracketsVerbatim(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracking.log")
	l, err := Open(path, "hub1")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Write(Event{Event: Receive, ID: "q1", MessageID: "<abc@contoso.test>", Sender: "a&b@contoso.test"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"<abc@contoso.test>"`)) || !bytes.Contains(b, []byte(`a&b@`)) || bytes.Count(b, []byte("\n")) != 1 {
		t.Errorf("tracking line: %s", b)
	}
}
