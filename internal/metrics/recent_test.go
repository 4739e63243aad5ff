package metrics

import (
	"testing"
	"time"
)

func TestWindowKeepsOneHour(t *testing.T) {
	var w window
	t0 := time.Date(2026, 12, 5, 10, 0, 30, 0, time.UTC)
	w.add(t0, 2)
	w.add(t0.Add(30*time.Minute), 3)
	if got := w.sum(t0.Add(30 * time.Minute)); got != 5 {
		t.Errorf("after 30 minutes: %d, want 5", got)
	}
	if got := w.sum(t0.Add(60 * time.Minute)); got != 3 {
		t.Errorf("after 60 minutes: %d, want 3 (the first minute has left the hour)", got)
	}
	w.add(t0.Add(120*time.Minute), 1) // same bucket as t0: reused
	if got := w.sum(t0.Add(120 * time.Minute)); got != 1 {
		t.Errorf("after two hours: %d, want 1", got)
	}
	m := New("hub1", nil)
	m.Received("Default")
	m.Delivery("mailbox", Delivered, "2.0.0", time.Second)
	m.Delivery("mailbox", Deferred, "4.0.0", time.Second)
	if r, d := m.LastHour(); r != 1 || d != 1 {
		t.Errorf("LastHour = %d, %d; want 1, 1", r, d)
	}
}
