package shadow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const id1 = "18ee7b7e6fbf627d-ad07296d70b0"

func TestQueryForms(t *testing.T) {
	if got, ok := ParseQueryAddress(QueryAddress(id1)); !ok || got != id1 {
		t.Errorf("round trip of the query address: %q %v", got, ok)
	}
	for _, a := range []string{"bob@contoso.test", id1 + "@shadow.invalid.example", "x y@shadow.invalid", "@shadow.invalid", "../etc@shadow.invalid"} {
		if _, ok := ParseQueryAddress(a); ok {
			t.Errorf("%q taken for a query", a)
		}
	}
	for _, st := range []Status{Done, Pending, Unknown} {
		if id, got, ok := ParseReply(ReplyText(id1, st)); !ok || id != id1 || got != st {
			t.Errorf("reply %q read as %q %q %v", ReplyText(id1, st), id, got, ok)
		}
	}
	if _, _, ok := ParseReply("shadow " + id1 + " maybe"); ok {
		t.Error("an unknown answer was read")
	}
	if got := QueuedID("250 2.0.0 Ok: queued as " + id1); got != id1 {
		t.Errorf("QueuedID = %q", got)
	}
	if got := QueuedID("250 2.0.0 Ok"); got != "" {
		t.Errorf("QueuedID of a reply without one = %q", got)
	}
	if s, id, ok := ParseOrigin(Origin("hub-e1", id1)); !ok || s != "hub-e1" || id != id1 {
		t.Errorf("origin round trip: %q %q %v", s, id, ok)
	}
}

// The discharged IDs survive a restart (the file), are forgotten after
// the keep time, and a torn last line costs only that line.
func TestDischarged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shadow", "discharged")
	keep := Keep(time.Minute)
	if keep != time.Hour || Keep(10*time.Minute) != 2*time.Hour {
		t.Errorf("Keep(1m) = %s, Keep(10m) = %s", keep, Keep(10*time.Minute))
	}
	d, err := OpenDischarged(path, keep)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Add(id1); err != nil {
		t.Fatal(err)
	}
	queued := func(string) bool { return false }
	if st := Answer(id1, queued, d); st != Done {
		t.Errorf("Answer = %s, want done", st)
	}
	if st := Answer(id1, func(string) bool { return true }, d); st != Pending {
		t.Errorf("Answer while still queued = %s, want pending", st)
	}
	if st := Answer("0000000000000001-000000000001", queued, d); st != Unknown {
		t.Errorf("Answer of a stranger = %s, want unknown", st)
	}
	d.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("0000000000000002-0000000") // torn by a crash
	f.Close()
	d, err = OpenDischarged(path, keep)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Has(id1) {
		t.Error("forgot a discharged ID across a restart")
	}
	d.now = func() time.Time { return time.Now().Add(keep + time.Minute) }
	if d.Has(id1) {
		t.Error("remembered an ID past DoneKeep")
	}
	if err := d.rewrite(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if b, _ := os.ReadFile(path); strings.Contains(string(b), id1) {
		t.Errorf("the rewritten file kept an old ID:\n%s", b)
	}
}

// holdings is a hub's shadows for the watcher, in memory.
type holdings struct {
	mu          sync.Mutex
	held        map[string][]Held
	discharged  []string
	resubmitted []string
}

func (h *holdings) Shadows() map[string][]Held {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]Held{}
	for k, v := range h.held {
		out[k] = append([]Held(nil), v...)
	}
	return out
}

func (h *holdings) drop(holder, id string) {
	var keep []Held
	for _, x := range h.held[holder] {
		if x.ID != id {
			keep = append(keep, x)
		}
	}
	h.held[holder] = keep
}

func (h *holdings) Discharge(holder, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.discharged = append(h.discharged, holder+" "+id)
	h.drop(holder, id)
}

func (h *holdings) Resubmit(holder, id, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resubmitted = append(h.resubmitted, holder+" "+id)
	h.drop(holder, id)
}

// The heartbeat discharges what is done, resubmits what is unknown,
// keeps what is pending, and resubmits the shadows of a silent holder
// only once the timeout has passed since its last answer (or since the
// shadow began, when that is later).
func TestWatcher(t *testing.T) {
	start := time.Date(2026, 12, 5, 22, 0, 0, 0, time.UTC)
	now := start
	const a, b, c, d = "0000000000000001-000000000001", "0000000000000002-000000000002", "0000000000000003-000000000003", "0000000000000004-000000000004"
	h := &holdings{held: map[string][]Held{
		"hub-o1": {{ID: a, Since: start}, {ID: b, Since: start}, {ID: c, Since: start}},
		"hub-o2": {{ID: d, Since: start}},
	}}
	answers := map[string]Status{a: Done, b: Pending, c: Unknown}
	down := map[string]bool{"hub-o2": true}
	var reasons []string
	w := &Watcher{Holdings: h, Now: func() time.Time { return now }, Timeout: func() time.Duration { return 10 * time.Second },
		Resubmitted: func(why string) { reasons = append(reasons, why) },
		Query: func(_ context.Context, holder string, ids []string) (map[string]Status, error) {
			if down[holder] {
				return nil, errors.New("connection refused")
			}
			out := map[string]Status{}
			for _, id := range ids {
				out[id] = answers[id]
			}
			return out, nil
		}}
	w.Once(context.Background())
	if strings.Join(h.discharged, ",") != "hub-o1 "+a || strings.Join(h.resubmitted, ",") != "hub-o1 "+c {
		t.Fatalf("first round: discharged %v, resubmitted %v", h.discharged, h.resubmitted)
	}
	now = start.Add(9 * time.Second)
	w.Once(context.Background())
	if len(h.resubmitted) != 1 {
		t.Fatalf("hub-o2's shadow resubmitted before the timeout: %v", h.resubmitted)
	}
	// hub-o1 goes silent too: its pending shadow waits the timeout from its last answer.
	down["hub-o1"] = true
	now = start.Add(11 * time.Second)
	w.Once(context.Background())
	if strings.Join(h.resubmitted, ",") != "hub-o1 "+c+",hub-o2 "+d {
		t.Fatalf("after 11s: %v", h.resubmitted)
	}
	now = start.Add(9*time.Second + 10*time.Second + time.Millisecond)
	w.Once(context.Background())
	if strings.Join(h.resubmitted, ",") != "hub-o1 "+c+",hub-o2 "+d+",hub-o1 "+b {
		t.Fatalf("after hub-o1's timeout: %v", h.resubmitted)
	}
	if strings.Join(reasons, ",") != "unknown,timeout,timeout" {
		t.Errorf("counted %v", reasons)
	}
}
