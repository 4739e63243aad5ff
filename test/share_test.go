package test

import (
	"fmt"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/test/harness"
)

// TestLoadSharingAndFailover: hub-a spreads 40 messages for the Internet
// connector over its two source servers, hub-b and hub-c; once hub-b is
// killed, the next messages reach the smart host through hub-c within
// seconds, not after a retry (test/scenarios/load-sharing).
func TestLoadSharingAndFailover(t *testing.T) {
	sink := startCountingSink(t)
	sc := newScenario(t, "load-sharing", map[string]string{"SINK": sink.addr}, "A_RELAY", "A_SMTP", "B_RELAY", "C_RELAY")
	vars, file := sc.Vars, sc.File
	harness.Start(t, file, "hub-a", vars["A_RELAY"], vars["A_SMTP"])
	b := harness.Start(t, file, "hub-b", vars["B_RELAY"])
	harness.Start(t, file, "hub-c", vars["C_RELAY"])

	code, out := waypost(t, "route", "--config", file, "--server", "hub-a", "--explain", "carol@fabrikam.test")
	if code != 0 || !strings.Contains(out, `"source_servers":["hub-b","hub-c"],"hubs":["hub-b","hub-c"]`) || !strings.Contains(out, `"hubs_reason":"straight to the connector's source servers in site 2 with a relay listener, hub-b, hub-c (`) {
		t.Errorf("waypost route --explain should name both hubs (exit %d):\n%s", code, out)
	}

	send := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			rcpt := fmt.Sprintf("user%02d@fabrikam.test", i)
			if err := smtp.SendMail(vars["A_SMTP"], nil, "alice@contoso.test", []string{rcpt}, []byte(fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	sends := func(server string) int { return strings.Count(sc.Track(server), `"event":"SEND","id"`) }
	send(0, 40)
	harness.WaitFor(t, 60*time.Second, "40 messages at the sink", func() bool { _, n := sink.delivered(); return n == 40 })
	nb, nc := sends("hub-b"), sends("hub-c")
	if nb == 0 || nc == 0 || nb+nc != 40 {
		t.Fatalf("both source servers should relay some of the 40: hub-b %d, hub-c %d", nb, nc)
	}
	t.Logf("hub-b relayed %d, hub-c %d", nb, nc)

	b.Kill()
	start := time.Now()
	send(40, 46)
	harness.WaitFor(t, 10*time.Second, "6 more messages at the sink through hub-c", func() bool { _, n := sink.delivered(); return n == 46 })
	took := time.Since(start)
	if took > 20*time.Second {
		t.Errorf("the messages took %s: they waited for a retry", took)
	}
	if got := sends("hub-c"); got != nc+6 {
		t.Errorf("hub-c relayed %d after hub-b died, want 6", got-nc)
	}
	a := sc.Track("hub-a")
	if !strings.Contains(a, "not reached, skipped: hub-b (") || strings.Contains(a, `"event":"DEFER"`) {
		t.Errorf("hub-a's tracking log should show hub-b skipped, and no deferral:\n%s", a)
	}
	t.Logf("6 messages through hub-c in %s after hub-b was killed", took)
}
