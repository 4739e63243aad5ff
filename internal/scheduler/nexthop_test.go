package scheduler

import (
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/routing"
)

// Records written by an earlier version name next hops by the same
// strings (routing.NextHop's String form): after a restart, queue
// administration lists them with their kind, a connector's queue and the
// mailboxes' with their delivery kind, and the metrics label them as
// before.
func TestQueuedNextHopsLoad(t *testing.T) {
	f := newFixture(t)
	later := f.now.Add(time.Hour)
	env := queue.Envelope{From: "bob@fabrikam.test", Arrival: f.now, Recipients: []queue.Recipient{
		{Written: "carol@fabrikam.test", Type: "SMTP", Address: "carol@fabrikam.test", NextHop: "connector:Internet@hub1", Attempts: 1, NextAttempt: later},
		{Written: "dave@fabrikam.test", Type: "SMTP", Address: "dave@fabrikam.test", NextHop: "hub:hub2", Attempts: 1, NextAttempt: later},
		{Written: "erin@fabrikam.test", Type: "SMTP", Address: "erin@fabrikam.test", NextHop: "unreachable", Attempts: 1, NextAttempt: later},
		{Written: "alice@contoso.test", Type: "SMTP", Address: "alice@contoso.test", NextHop: "mailbox:hub1", Attempts: 1, NextAttempt: later},
	}}
	if _, err := f.s.Queue.Add(env, strings.NewReader("Subject: old\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	f.restart(t)
	ql, err := f.s.List(control.Select{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, q := range ql.Queues {
		got[q.Queue] = q.Kind + " " + q.Delivery
	}
	for name, want := range map[string]string{"connector:Internet@hub1": "connector smtp", "hub:hub2": "hub ", "unreachable": "unreachable ", "mailbox:hub1": "mailbox maildir"} {
		if got[name] != want {
			t.Errorf("queue %s: %q, want %q (all: %v)", name, got[name], want, got)
		}
	}
	for name, want := range map[string][2]string{"connector:Internet@hub1": {"Internet", ""}, "hub:hub2": {"relay", "hub2"}, "mailbox:hub1": {"mailbox", ""}, "bogus": {"none", ""}} {
		if c, p := connectorLabel(name); c != want[0] || p != want[1] {
			t.Errorf("connectorLabel(%q) = %q, %q, want %q", name, c, p, want)
		}
	}
	if h, err := routing.ParseNextHop("connector:Internet@hub1"); err != nil || h.Name != "Internet" || h.Server != "hub1" {
		t.Errorf("ParseNextHop: %+v, %v", h, err)
	}
}
