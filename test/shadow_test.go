package test

import (
	"bytes"
	"fmt"
	"net/smtp"
	"net/textproto"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/test/harness"
)

// shadowScenario is test/scenarios/shadow with the Internet connector's
// source servers, the shadow_on_receive mode and a heartbeat timeout of
// timeout.
func shadowScenario(t *testing.T, sources, mode string, timeout time.Duration) *scenario {
	t.Helper()
	return newScenario(t, "shadow", map[string]string{"SOURCES": sources, "MODE": mode, "TIMEOUT": timeout.String()},
		"E1_RELAY", "E1_SMTP", "E2_RELAY", "E2_SMTP", "O1_RELAY", "O2_RELAY", "TARGET")
}

// shadowSend submits a message for carol@example.org (the Internet
// connector) on addr and returns the error of the submission.
func shadowSend(addr, subject string) error {
	msg := "From: alice@contoso.test\r\nTo: carol@example.org\r\nSubject: " + subject + "\r\n\r\n" + subject + " body\r\n"
	return smtp.SendMail(addr, nil, "alice@contoso.test", []string{"carol@example.org"}, []byte(msg))
}

// queuesOf is `waypost queue list` of server, over its control socket.
func queuesOf(t *testing.T, sc *scenario, server string) map[string]control.Queue {
	t.Helper()
	c, err := control.Dial(control.SocketPath(sc.Data(server)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var res control.QueueList
	if err := c.Call(control.OpQueueList, control.Select{}, &res); err != nil {
		t.Fatal(err)
	}
	out := map[string]control.Queue{}
	for _, q := range res.Queues {
		out[q.Queue] = q
	}
	return out
}

// shadowCLI runs `waypost ARGS --config FILE --server SERVER`.
func shadowCLI(t *testing.T, sc *scenario, server string, args ...string) string {
	t.Helper()
	args = append(args[:len(args):len(args)], "--config", sc.File, "--server", server)
	cmd := exec.Command(harness.Binary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("waypost %v: %v\n%s%s", args, err, out.String(), errOut.String())
	}
	return out.String()
}

// Shadow redundancy for relayed mail: hub-e1 relays to hub-o1, which
// cannot deliver (the target is down), and keeps each message as a
// shadow. hub-o1 is killed and its data folder destroyed; started again
// empty, it answers "unknown" to hub-e1's heartbeat, and hub-e1 delivers
// the messages anew. When the target is back all arrive, and hub-e1's
// shadows of the new copies are discharged. One message whose shadow an
// administrator discarded (waypost queue discard) is not delivered again.
func TestShadowAfterRelay(t *testing.T) {
	sc := shadowScenario(t, `"hub-o1"`, "off", 2*time.Second)
	v := sc.Vars
	e1 := harness.Start(t, sc.File, "hub-e1", v["E1_RELAY"], v["E1_SMTP"])
	o1 := harness.Start(t, sc.File, "hub-o1", v["O1_RELAY"])
	const n = 5
	for i := range n {
		if err := shadowSend(v["E1_SMTP"], fmt.Sprintf("relayed %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitShadow(t, 15*time.Second, "hub-e1 keeping a shadow of each message", sc, func() bool {
		return queuesOf(t, sc, "hub-e1")["shadow:hub-o1"].Recipients == n && queuesOf(t, sc, "hub-o1")["connector:Internet@hub-o1"].Recipients == n
	}, map[string]*harness.Hub{"hub-e1": e1, "hub-o1": o1})
	if out := shadowCLI(t, sc, "hub-e1", "queue", "list"); !strings.Contains(out, "shadow:hub-o1") {
		t.Errorf("waypost queue list on hub-e1 shows no shadow queue:\n%s", out)
	}
	// Asked while hub-o1 holds them: pending, so hub-e1 keeps them.
	time.Sleep(3 * time.Second)
	if q := queuesOf(t, sc, "hub-e1")["shadow:hub-o1"]; q.Recipients != n {
		t.Fatalf("hub-e1's shadows after a heartbeat with hub-o1 up: %+v\nhub-e1 log:\n%s", q, e1.Log())
	}

	// One more, whose shadow an administrator discards: never delivered
	// from hub-e1 again, whatever becomes of hub-o1.
	if err := shadowSend(v["E1_SMTP"], "discarded"); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 15*time.Second, "the last shadow", func() bool { return queuesOf(t, sc, "hub-e1")["shadow:hub-o1"].Recipients == n+1 })
	last := ""
	for _, line := range strings.Split(strings.TrimSpace(shadowCLI(t, sc, "hub-e1", "queue", "list", "--messages", "--json", "--state", "shadow")), "\n") {
		if _, rest, ok := strings.Cut(line, `"id":"`); ok {
			if id, _, _ := strings.Cut(rest, `"`); id > last {
				last = id
			}
		}
	}
	if out := shadowCLI(t, sc, "hub-e1", "queue", "discard", last); !strings.Contains(out, "discard: 1 recipient(s) of 1 message(s)") {
		t.Fatalf("waypost queue discard %s:\n%s", last, out)
	}
	harness.WaitFor(t, 10*time.Second, "the discarded shadow gone", func() bool { return queuesOf(t, sc, "hub-e1")["shadow:hub-o1"].Recipients == n })
	if !strings.Contains(sc.Track("hub-e1"), `"event":"DISCARD"`) {
		t.Error("no DISCARD in hub-e1's tracking log")
	}

	o1.Kill()
	if err := os.RemoveAll(sc.Data("hub-o1")); err != nil {
		t.Fatal(err)
	}
	harness.Start(t, sc.File, "hub-o1", v["O1_RELAY"])
	harness.WaitFor(t, 15*time.Second, "hub-e1 resubmitting what hub-o1 lost", func() bool {
		return strings.Count(sc.Track("hub-e1"), `"event":"RESUBMIT"`) == n
	})
	if tr := sc.Track("hub-e1"); !strings.Contains(tr, "does not know its primary") {
		t.Errorf("RESUBMIT without the reason:\n%s", tr)
	}
	sink := startSink(t, v["TARGET"])
	harness.WaitFor(t, 20*time.Second, "every message at the target", func() bool {
		for i := range n {
			if !sink.got(fmt.Sprintf("relayed %d", i)) {
				return false
			}
		}
		return true
	})
	harness.WaitFor(t, 10*time.Second, "hub-e1's shadows discharged", func() bool {
		_, kept := queuesOf(t, sc, "hub-e1")["shadow:hub-o1"]
		return !kept && strings.Count(sc.Track("hub-e1"), `"event":"DISCHARGE"`) == n
	})
	if sink.got("discarded") {
		t.Error("the message whose shadow was discarded was delivered, though hub-o1 lost it")
	}
}

// Issue 19 item 5 (b): two hubs of one site with shadow_on_receive =
// "required". Without the second hub the first refuses with 451 4.4.0
// and keeps nothing; with it, every message the first accepts has a copy
// on the second. The first is killed and its data folder destroyed: the
// second resubmits the copies after the heartbeat timeout and delivers
// them when the target returns.
func TestShadowOnReceiveRequired(t *testing.T) {
	sc := shadowScenario(t, `"hub-e1", "hub-e2"`, "required", 2*time.Second)
	v := sc.Vars
	e1 := harness.Start(t, sc.File, "hub-e1", v["E1_RELAY"], v["E1_SMTP"])

	err := shadowSend(v["E1_SMTP"], "no copy")
	var te *textproto.Error
	if !asTextproto(err, &te) || te.Code != 451 || !strings.HasPrefix(te.Msg, "4.4.0") {
		t.Fatalf("without another hub: %v, want 451 4.4.0", err)
	}
	if qs := queuesOf(t, sc, "hub-e1"); len(qs) != 0 {
		t.Errorf("hub-e1 kept a message it refused: %+v", qs)
	}

	harness.Start(t, sc.File, "hub-e2", v["E2_RELAY"], v["E2_SMTP"])
	const n = 10
	for i := range n {
		if err := shadowSend(v["E1_SMTP"], fmt.Sprintf("copied %d", i)); err != nil {
			t.Fatalf("message %d: %v\nhub-e1 log:\n%s", i, err, e1.Log())
		}
	}
	if q := queuesOf(t, sc, "hub-e2")["shadow:hub-e1"]; q.Messages != n {
		t.Fatalf("hub-e2's copies right after the 250s: %+v", q)
	}
	e1.Kill()
	if err := os.RemoveAll(sc.Data("hub-e1")); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	harness.WaitFor(t, 15*time.Second, "hub-e2 resubmitting the copies", func() bool {
		return strings.Count(sc.Track("hub-e2"), `"event":"RESUBMIT"`) == n
	})
	if waited := time.Since(killed); waited < time.Second {
		t.Errorf("resubmitted %s after the kill, before the heartbeat timeout", waited)
	}
	sink := startSink(t, v["TARGET"])
	harness.WaitFor(t, 20*time.Second, "every message at the target", func() bool {
		for i := range n {
			if !sink.got(fmt.Sprintf("copied %d", i)) {
				return false
			}
		}
		return true
	})
	if sink.got("no copy") {
		t.Error("the refused message was delivered")
	}
}

// Issue 19 item 5 (a): a connector with two source servers in another
// site, its target down; 40 messages sent to hub-e1 are spread over both
// source servers, and hub-e1 keeps a shadow of each. One source server
// is killed and its data folder deleted; the target comes back. Every
// message arrives within the heartbeat timeout plus a retry: the other
// source server delivers its own at its next retry, and hub-e1 resubmits
// the lost ones once the dead hub has been silent for the timeout, load
// sharing handing them to the survivor.
func TestShadowFailoverAcrossSites(t *testing.T) {
	const timeout = 3 * time.Second
	// Four hubs: hub-e2, in hub-e1's site, takes a copy of each message
	// before hub-e1's 250 (best_effort) and watches hub-e1 meanwhile.
	sc := shadowScenario(t, `"hub-o1", "hub-o2"`, "best_effort", timeout)
	v := sc.Vars
	hubs := map[string]*harness.Hub{
		"hub-e1": harness.Start(t, sc.File, "hub-e1", v["E1_RELAY"], v["E1_SMTP"]),
		"hub-e2": harness.Start(t, sc.File, "hub-e2", v["E2_RELAY"], v["E2_SMTP"]),
		"hub-o1": harness.Start(t, sc.File, "hub-o1", v["O1_RELAY"]),
		"hub-o2": harness.Start(t, sc.File, "hub-o2", v["O2_RELAY"]),
	}
	const n = 40
	for i := range n {
		if err := shadowSend(v["E1_SMTP"], fmt.Sprintf("spread %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var on1, on2 int
	waitShadow(t, 20*time.Second, "hub-e1 keeping a shadow of each message on either source server", sc, func() bool {
		qs := queuesOf(t, sc, "hub-e1")
		on1, on2 = qs["shadow:hub-o1"].Recipients, qs["shadow:hub-o2"].Recipients
		return on1+on2 == n
	}, hubs)
	if on1 == 0 || on2 == 0 {
		t.Fatalf("shadows on hub-o1: %d, on hub-o2: %d; want both source servers to get some", on1, on2)
	}
	t.Logf("hub-o1 holds %d, hub-o2 holds %d", on1, on2)
	if got := queuesOf(t, sc, "hub-e2")["shadow:hub-e1"].Recipients; got != n {
		t.Fatalf("hub-e2 holds %d copies of hub-e1's messages, want all %d (made before each 250)", got, n)
	}

	hubs["hub-o1"].Kill()
	if err := os.RemoveAll(sc.Data("hub-o1")); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	sink := startSink(t, v["TARGET"])
	// The heartbeat timeout, one retry (glitch_interval 1s), and room for
	// a loaded machine.
	waitShadow(t, timeout+time.Second+6*time.Second, "all 40 at the target", sc, func() bool {
		for i := range n {
			if !sink.got(fmt.Sprintf("spread %d", i)) {
				return false
			}
		}
		return true
	}, hubs)
	t.Logf("all %d arrived %s after the kill (heartbeat timeout %s)", n, time.Since(killed).Round(100*time.Millisecond), timeout)
	if got := strings.Count(sc.Track("hub-e1"), `"event":"RESUBMIT"`); got != on1 {
		t.Errorf("hub-e1 resubmitted %d, want the %d hub-o1 held", got, on1)
	}
	waitShadow(t, 10*time.Second, "hub-e1's shadows discharged", sc, func() bool {
		return len(queuesOf(t, sc, "hub-e1")) == 0
	}, hubs)
	// hub-e2 held a copy of every message from before hub-e1's 250, and
	// gives them up once hub-e1 says they are done, delivering none.
	if got := strings.Count(sc.Track("hub-e2"), `"event":"RESUBMIT"`); got != 0 {
		t.Errorf("hub-e2 resubmitted %d copies while hub-e1 was up", got)
	}
	waitShadow(t, timeout+10*time.Second, "hub-e2's copies discharged", sc, func() bool {
		return len(queuesOf(t, sc, "hub-e2")) == 0
	}, hubs)
}

func asTextproto(err error, te **textproto.Error) bool {
	e, ok := err.(*textproto.Error)
	if ok {
		*te = e
	}
	return ok
}

// waitShadow is harness.WaitFor that shows the hubs' queues, tracking
// logs and logs when it times out.
func waitShadow(t *testing.T, timeout time.Duration, what string, sc *scenario, cond func() bool, hubs map[string]*harness.Hub) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			var b strings.Builder
			for name, h := range hubs {
				fmt.Fprintf(&b, "--- %s\nlog:\n%s\ntracking:\n%s\n", name, h.Log(), sc.Track(name))
			}
			t.Fatalf("timed out after %s waiting for %s\n%s", timeout, what, b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
