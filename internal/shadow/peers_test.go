package shadow

import (
	"strings"
	"testing"
	"time"
)

// A peer whose last copy failed is tried after the others for the glitch
// retry interval, and in its turn again after a success.
func TestPeerOrder(t *testing.T) {
	var p Peers
	now := time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC)
	names := []string{"hub-a", "hub-b", "hub-c"}
	order := func(at time.Time) string { return strings.Join(p.Order(names, time.Minute, at), " ") }
	if got := order(now); got != "hub-a hub-b hub-c" {
		t.Errorf("at first: %s", got)
	}
	p.Mark("hub-a", false, now)
	if got := order(now.Add(30 * time.Second)); got != "hub-b hub-c hub-a" {
		t.Errorf("after hub-a failed: %s", got)
	}
	if got := order(now.Add(2 * time.Minute)); got != "hub-a hub-b hub-c" {
		t.Errorf("after the glitch retry interval: %s", got)
	}
	p.Mark("hub-b", false, now)
	p.Mark("hub-b", true, now)
	if got := order(now); got != "hub-b hub-c hub-a" {
		t.Errorf("after hub-b answered again (hub-a still failed): %s", got)
	}
}

// The first copy not made is warned of, then one line every interval
// with the count since.
func TestWarningsSpacedOut(t *testing.T) {
	w := Warnings{Every: 10 * time.Second}
	now := time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC)
	if n, due := w.Due(now); !due || n != 1 {
		t.Errorf("the first: %d %v", n, due)
	}
	for i := 1; i <= 5; i++ {
		if _, due := w.Due(now.Add(time.Duration(i) * time.Second)); due {
			t.Errorf("warned again %ds after the first", i)
		}
	}
	if n, due := w.Due(now.Add(11 * time.Second)); !due || n != 6 {
		t.Errorf("after the interval: %d %v, want 6 true", n, due)
	}
}
