package scheduler

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/routing"
)

const shadowOrgText = `
[organization]
default_domain = "contoso.test"
hub_secret_file = "hub.secret"
[[accepted_domain]]
domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
relay = "127.0.0.1:1"
[[server]]
name = "hub2"
site = "HQ"
relay = "127.0.0.1:2"
[[recipient]]
kind = "mailbox"
name = "Zed"
server = "hub2"
addresses = ["SMTP:zed@contoso.test"]
`

// shadowFixture is a fixture whose hub1 relays Zed's mail to hub2
// through an agent that answers as a relay listener does ("queued as
// ID", a new ID each time), keeping shadows.
type shadowFixture struct {
	*fixture
	mu         sync.Mutex
	relays     int
	discharged []string
}

func newShadowFixture(t *testing.T) *shadowFixture {
	t.Helper()
	f := &shadowFixture{fixture: newFixture(t)}
	org, err := config.Parse([]byte(shadowOrgText), "org.toml", f.dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := directory.NewMemory(org.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	f.s.Engine.Store(routing.New(org, d))
	f.wire()
	return f
}

// wire sets the relay agent and the shadow settings of the scheduler (again after a restart).
func (f *shadowFixture) wire() {
	f.s.Shadow = true
	f.s.Discharged = func(m *queue.Message) {
		f.mu.Lock()
		f.discharged = append(f.discharged, m.ID)
		f.mu.Unlock()
	}
	f.s.Relay = func(server string) delivery.Agent {
		return agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
			f.mu.Lock()
			f.relays++
			n := f.relays
			f.mu.Unlock()
			return every(len(m.Recipients), delivery.Result{Class: delivery.Relayed, Status: "2.0.0", RemoteHost: server,
				RemoteText: fmt.Sprintf("250 2.0.0 Ok: queued as %016x-%012x", n, n)})
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func every(n int, r delivery.Result) []delivery.Result {
	out := make([]delivery.Result, n)
	for i := range out {
		out[i] = r
	}
	return out
}

func (f *shadowFixture) zed(t *testing.T) *queue.Message {
	t.Helper()
	env := queue.Envelope{From: "alice@fabrikam.test", Recipients: []queue.Recipient{{Written: "zed@contoso.test", Type: "SMTP", Address: "zed@contoso.test"}}}
	m, err := f.add(env, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A recipient relayed to another hub that names its queue ID stays as a
// shadow in queue shadow:HUB: never attempted again, kept across a
// restart, listed; Resubmit makes it due and relayed anew; Discharge
// and the administrators' discard end it, and the message leaves.
func TestShadowAfterRelay(t *testing.T) {
	f := newShadowFixture(t)
	m := f.zed(t)
	f.s.RunOnce(context.Background())
	got := f.s.record(m.ID)
	if got == nil {
		t.Fatal("the message left the queue once relayed; want it kept as a shadow")
	}
	r := got.Recipients[0]
	if r.State != queue.Shadowed || r.Shadow != "hub2" || r.ShadowID != "0000000000000001-000000000001" {
		t.Fatalf("after the relay: %+v", r)
	}
	f.s.RunOnce(context.Background())
	if f.relays != 1 {
		t.Errorf("a shadow was attempted again: %d relays", f.relays)
	}
	if qs := f.s.summary(f.now); len(qs) != 1 || qs[0].Queue != "shadow:hub2" || qs[0].Kind != "shadow" || qs[0].Recipients != 1 {
		t.Errorf("queues: %+v", qs)
	}
	if l, _ := f.s.List(control.Select{State: "shadow", Messages: true}); len(l.Messages) != 1 {
		t.Errorf("list --state shadow: %+v", l.Messages)
	}

	f.restart(t)
	f.wire()
	f.s.RunOnce(context.Background())
	sh := f.s.Shadows()
	if len(sh["hub2"]) != 1 || sh["hub2"][0].ID != "0000000000000001-000000000001" || sh["hub2"][0].Since.IsZero() {
		t.Fatalf("Shadows after a restart: %+v", sh)
	}

	f.s.Resubmit("hub2", "0000000000000001-000000000001", "hub2 lost it")
	if r := f.s.record(m.ID).Recipients[0]; r.State != queue.Pending {
		t.Fatalf("after Resubmit: %+v", r)
	}
	f.s.RunOnce(context.Background())
	if r := f.s.record(m.ID).Recipients[0]; f.relays != 2 || r.State != queue.Shadowed || r.ShadowID != "0000000000000002-000000000002" {
		t.Fatalf("after the resubmitted relay (%d relays): %+v", f.relays, r)
	}
	track := readFile(t, f.track)
	if !strings.Contains(track, `"event":"RESUBMIT"`) || !strings.Contains(track, "hub2 lost it") {
		t.Errorf("tracking log:\n%s", track)
	}

	// Discharge of an ID it does not keep changes nothing; of its own, the message leaves.
	f.s.Discharge("hub2", "0000000000000001-000000000001")
	if f.s.record(m.ID) == nil {
		t.Fatal("discharged by an old ID")
	}
	f.s.Discharge("hub2", "0000000000000002-000000000002")
	f.s.RunOnce(context.Background())
	if f.s.record(m.ID) != nil {
		t.Error("the message stayed after its shadow was discharged")
	}
	if !strings.Contains(readFile(t, f.track), `"event":"DISCHARGE"`) || len(f.discharged) != 1 || f.discharged[0] != m.ID {
		t.Errorf("discharged %v", f.discharged)
	}

	// An administrator gives a shadow up.
	m2 := f.zed(t)
	f.s.RunOnce(context.Background())
	if _, err := f.s.Discard(control.Select{Queue: "shadow:hub2"}, "tester"); err != nil {
		t.Fatal(err)
	}
	f.s.RunOnce(context.Background())
	if f.s.record(m2.ID) != nil {
		t.Error("the message stayed after its shadow was discarded")
	}
	if !strings.Contains(readFile(t, f.track), `"event":"DISCARD"`) {
		t.Error("no DISCARD in the tracking log")
	}
}

// A relay listener that gives no queue ID (an older hub) leaves the
// recipient relayed: there is nothing to ask it about.
func TestNoShadowWithoutQueueID(t *testing.T) {
	f := newShadowFixture(t)
	f.s.Relay = func(server string) delivery.Agent {
		return agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
			return every(len(m.Recipients), delivery.Result{Class: delivery.Relayed, Status: "2.0.0", RemoteText: "250 2.0.0 Ok"})
		})
	}
	m := f.zed(t)
	f.s.RunOnce(context.Background())
	if f.s.record(m.ID) != nil {
		t.Error("kept a shadow with no queue ID to ask about")
	}
}
