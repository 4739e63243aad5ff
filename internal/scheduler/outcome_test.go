package scheduler

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/tracking"
)

// What the scheduler records of a delivery comes from the Result alone,
// whatever agent gave it: a Relayed recipient is recorded relayed and
// tracked as SEND, and gets a "relayed" success notification only when
// the next hop did not take NOTIFY on; a Delivered one is tracked as
// DELIVER with a "delivered" notification. The third recipient waits, so
// the record stays to be read.
func TestOutcomeFromResult(t *testing.T) {
	f := newFixture(t)
	f.s.Connector = func(string) delivery.Agent {
		return agentFunc(func(_ context.Context, m *delivery.Message) []delivery.Result {
			var res []delivery.Result
			for _, r := range m.Recipients {
				switch r.Address {
				case "carol@fabrikam.test":
					res = append(res, delivery.Result{Class: delivery.Relayed, Status: "2.0.0", Text: "handed on"})
				case "dave@fabrikam.test":
					res = append(res, delivery.Result{Class: delivery.Relayed, Status: "2.0.0", Text: "handed on", NotifyPassed: true})
				case "erin@fabrikam.test":
					res = append(res, delivery.Result{Class: delivery.Delivered, Status: "2.0.0", Text: "in its mailbox"})
				default:
					res = append(res, delivery.Result{Class: delivery.Retry, Status: "4.4.1", Text: "no answer"})
				}
			}
			return res
		})
	}
	env := queue.Envelope{From: "alice@contoso.test", Arrival: f.now}
	for _, a := range []string{"carol@fabrikam.test", "dave@fabrikam.test", "erin@fabrikam.test", "frank@fabrikam.test"} {
		env.Recipients = append(env.Recipients, queue.Recipient{Written: a, Type: "SMTP", Address: a, Notify: "SUCCESS"})
	}
	m, err := f.add(env, strings.NewReader("Subject: x\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.s.RunOnce(context.Background()) // delivers, and queues the success notification
	got := get(t, f, m.ID)
	want := []queue.State{queue.Relayed, queue.Relayed, queue.Delivered, queue.Pending}
	for i, r := range got.Recipients {
		if r.State != want[i] {
			t.Errorf("%s: state %s, want %s", r.Address, r.State, want[i])
		}
	}
	track, err := os.ReadFile(f.track)
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]string{} // recipient -> its last event
	for _, line := range strings.Split(strings.TrimSpace(string(track)), "\n") {
		var e tracking.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("tracking line %q: %v", line, err)
		}
		events[e.Recipient] = e.Event
	}
	for rcpt, want := range map[string]string{"SMTP:carol@fabrikam.test": tracking.Send, "SMTP:dave@fabrikam.test": tracking.Send,
		"SMTP:erin@fabrikam.test": tracking.Deliver, "SMTP:frank@fabrikam.test": tracking.Defer} {
		if events[rcpt] != want {
			t.Errorf("%s: tracked %q, want %q", rcpt, events[rcpt], want)
		}
	}
	f.s.RunOnce(context.Background()) // delivers the notification to alice
	box := f.inbox(t, delivery.Folder("alice@contoso.test"))
	if len(box) != 1 {
		t.Fatalf("%d success notifications, want 1", len(box))
	}
	n := box[0]
	if !strings.Contains(n, "Final-Recipient: rfc822;carol@fabrikam.test\r\nAction: relayed") ||
		!strings.Contains(n, "Final-Recipient: rfc822;erin@fabrikam.test\r\nAction: delivered") ||
		strings.Contains(n, "dave@fabrikam.test") {
		t.Errorf("success notification: want carol relayed, erin delivered, nothing of dave:\n%s", n)
	}
}
