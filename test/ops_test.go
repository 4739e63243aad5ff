package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/test/harness"
)

// opsHub is the scenario of test/scenarios/ops: one hub, hub1, whose
// Internet connector's smart host the test controls.
type opsHub struct {
	t  *testing.T
	sc *scenario
	h  *harness.Hub
}

func newOpsHub(t *testing.T, glitch int, flags ...string) *opsHub {
	t.Helper()
	sc := newScenario(t, "ops", map[string]string{"GLITCH": strconv.Itoa(glitch), "EXTRA": ""}, "SMTP", "API", "SMART_HOST", "FABRIKAM")
	o := &opsHub{t: t, sc: sc}
	o.start(flags...)
	return o
}

func (o *opsHub) start(flags ...string) {
	o.h = harness.StartFlags(o.t, o.sc.File, "hub1", flags, o.sc.Vars["SMTP"], o.sc.Vars["API"])
}

// send submits a message from alice on the port-25 connector (loopback
// may relay).
func (o *opsHub) send(to, subject string) {
	o.t.Helper()
	msg := "From: alice@contoso.test\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n\r\n" + subject + " body\r\n"
	if err := smtp.SendMail(o.sc.Vars["SMTP"], nil, "alice@contoso.test", []string{to}, []byte(msg)); err != nil {
		o.t.Fatalf("sending %q: %v", subject, err)
	}
}

// waypost runs the binary with --config (and --server for the commands
// that take it) and returns stdout, stderr and the exit code.
func (o *opsHub) waypost(args ...string) (string, string, int) {
	o.t.Helper()
	flags := []string{"--config", o.sc.File}
	if args[0] != "check" {
		flags = append(flags, "--server", "hub1")
	}
	args = append(args[:1:1], append(flags, args[1:]...)...)
	cmd := exec.Command(harness.Binary(o.t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		o.t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// ok runs a waypost command that must succeed and returns its stdout.
func (o *opsHub) ok(args ...string) string {
	o.t.Helper()
	out, errOut, code := o.waypost(args...)
	if code != 0 {
		o.t.Fatalf("waypost %v: exit %d\n%s%s\nhub log:\n%s", args, code, out, errOut, o.h.Log())
	}
	return out
}

// call asks the hub over its control socket, as the CLI does; the polls
// of these tests use it to spare a process per look (the commands
// themselves are run as processes where the test checks them).
func (o *opsHub) call(op string, args, result any) {
	o.t.Helper()
	c, err := control.Dial(control.SocketPath(o.sc.Data("hub1")))
	if err != nil {
		o.t.Fatal(err)
	}
	defer c.Close()
	if err := c.Call(op, args, result); err != nil {
		o.t.Fatalf("%s: %v", op, err)
	}
}

// queues is `waypost queue list --json`.
func (o *opsHub) queues() []control.Queue {
	o.t.Helper()
	var res control.QueueList
	o.call(control.OpQueueList, control.Select{}, &res)
	return res.Queues
}

// messages is `waypost queue list --messages --json` with filters.
func (o *opsHub) messages(sel control.Select) []control.Message {
	o.t.Helper()
	var res control.QueueList
	sel.Messages = true
	o.call(control.OpQueueList, sel, &res)
	return res.Messages
}

// cliMessages is messages through the command line.
func (o *opsHub) cliMessages(filters ...string) []control.Message {
	o.t.Helper()
	var out []control.Message
	for _, line := range lines(o.ok(append([]string{"queue", "list", "--messages", "--json"}, filters...)...)) {
		var m control.Message
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			o.t.Fatalf("queue list --messages --json: %v: %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// message returns the queued message whose recipient contains rcpt.
func (o *opsHub) message(rcpt string) *control.Message {
	o.t.Helper()
	ms := o.messages(control.Select{Recipient: rcpt})
	if len(ms) != 1 {
		return nil
	}
	return &ms[0]
}

func (o *opsHub) waitFor(what string, cond func() bool) {
	o.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			o.t.Fatalf("timed out waiting for %s\nhub log:\n%s\ntracking log:\n%s", what, o.h.Log(), o.sc.Track("hub1"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// startSink runs a real SMTP server on addr (a smart host coming back).
func startSink(t *testing.T, addr string) *sink {
	t.Helper()
	s := &sink{}
	srv := gosmtp.NewServer(s)
	var ln net.Listener
	var err error
	for range 50 { // the port was free a moment ago; the hub's attempts do not hold it
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *sink) got(subject string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.data {
		if strings.Contains(d, "Subject: "+subject+"\r\n") {
			return true
		}
	}
	return false
}

// Queue administration against a running hub: list with the last error and
// next retry, show, dump, hold (kept across a restart), retry at once after
// the smart host is back, release, remove with a report, and who did each.
func TestQueueAdministration(t *testing.T) {
	o := newOpsHub(t, 2)
	// The control socket is owner-only, in an owner-only folder.
	data := o.sc.Data("hub1")
	for path, want := range map[string]os.FileMode{data: 0o700, filepath.Join(data, control.SocketName): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want mode %v", path, fi.Mode(), err, want)
		}
	}
	if out := o.ok("queue", "list"); !strings.Contains(out, "the queue is empty") {
		t.Errorf("empty queue listed as:\n%s", out)
	}

	// 1. The smart host is down: the message waits, and the listing says why and when next.
	o.send("carol@example.org", "first")
	o.waitFor("an attempt on the Internet queue", func() bool {
		qs := o.queues()
		return len(qs) == 1 && qs[0].LastError != ""
	})
	var qs []control.Queue
	for _, line := range lines(o.ok("queue", "list", "--json")) {
		var q control.Queue
		if err := json.Unmarshal([]byte(line), &q); err != nil {
			t.Fatalf("queue list --json: %v: %s", err, line)
		}
		qs = append(qs, q)
	}
	if len(qs) != 1 {
		t.Fatalf("queue list --json: %+v", qs)
	}
	q := qs[0]
	if q.Queue != "connector:Internet@hub1" || q.Kind != "connector" || q.Delivery != "smtp" || q.Messages != 1 ||
		q.LastStatus != "4.4.1" || !strings.Contains(q.LastError, "connection refused") || q.NextRetry.IsZero() || q.Oldest.IsZero() {
		t.Errorf("queue: %+v", q)
	}
	text := o.ok("queue", "list")
	for _, want := range []string{"connector:Internet@hub1", "connector/smtp", "4.4.1", "connection refused"} {
		if !strings.Contains(text, want) {
			t.Errorf("queue list lacks %q:\n%s", want, text)
		}
	}
	first := o.message("carol@")
	if first == nil {
		t.Fatalf("no message for carol: %v", o.messages(control.Select{}))
	}

	// show: the envelope, the recipient's state and the history of attempts.
	show := o.ok("queue", "show", first.ID)
	for _, want := range []string{"From:        alice@contoso.test", "SMTP:carol@example.org", "queue connector:Internet@hub1", "RECEIVE", "DEFER", "last result: 4.4.1"} {
		if !strings.Contains(show, want) {
			t.Errorf("queue show lacks %q:\n%s", want, show)
		}
	}
	// dump: the raw message as queued.
	if raw := o.ok("queue", "dump", first.ID); !strings.HasPrefix(withoutAuthResults(raw), "Received: ") || !strings.HasSuffix(raw, "\r\n\r\nfirst body\r\n") {
		t.Errorf("queue dump:\n%q", raw)
	}
	// Filters: by domain, sender, type and state.
	if ms := o.cliMessages("--domain", "example.org", "--sender", "alice", "--type", "smtp", "--state", "retry"); len(ms) != 1 || ms[0].ID != first.ID {
		t.Errorf("filtered listing: %+v", ms)
	}
	if ms := o.cliMessages("--domain", "fabrikam.test"); len(ms) != 0 {
		t.Errorf("--domain fabrikam.test listed %+v", ms)
	}

	// 2. A second message is held after its first attempt: no more attempts.
	o.send("dave@example.org", "second")
	o.waitFor("the second message's first attempt", func() bool {
		m := o.message("dave@")
		return m != nil && m.Recipients[0].Attempts >= 1
	})
	second := o.message("dave@")
	if out := o.ok("queue", "hold", second.ID); !strings.Contains(out, "hold: 1 recipient(s) of 1 message(s) held") {
		t.Errorf("hold: %s", out)
	}
	heldAt := o.message("dave@").Recipients[0].Attempts
	// The first message, two attempts a second apart, then an hour away.
	o.waitFor("the first message's third attempt", func() bool { return o.message("carol@").Recipients[0].Attempts >= 3 })
	time.Sleep(1500 * time.Millisecond) // two more glitch intervals
	if r := o.message("dave@").Recipients[0]; r.State != "held" || r.Attempts != heldAt || !r.NextAttempt.IsZero() {
		t.Errorf("held recipient: %+v, want held with %d attempts", r, heldAt)
	}
	if ms := o.cliMessages("--state", "held"); len(ms) != 1 || ms[0].ID != second.ID {
		t.Errorf("--state held: %+v", ms)
	}

	// The hold is in the queue record: it survives a restart.
	if err := o.h.Stop(); err != nil {
		t.Fatal(err)
	}
	o.start()
	if r := o.message("dave@").Recipients[0]; r.State != "held" || r.Attempts != heldAt {
		t.Errorf("after a restart: %+v, want still held", r)
	}

	// 3. A third message is removed with a report to its sender.
	o.send("erin@example.org", "third")
	o.waitFor("the third message's first attempt", func() bool {
		m := o.message("erin@")
		return m != nil && m.Recipients[0].Attempts >= 1
	})
	third := o.message("erin@")
	if out := o.ok("queue", "remove", third.ID, "--ndr"); !strings.Contains(out, "removed 1 message(s) with a non-delivery report") {
		t.Errorf("remove --ndr: %s", out)
	}
	alice := delivery.Folder("alice@contoso.test")
	o.waitFor("the report in alice's mailbox", func() bool { return len(harness.Maildir(t, data, alice)) == 1 })
	ndr := harness.Maildir(t, data, alice)[0]
	for _, want := range []string{"Return-Path: <>", "Subject: Undeliverable: third", "Final-Recipient: rfc822;erin@example.org", "Action: failed", "Status: 5.3.0", "QUEUE.Admin"} {
		if !strings.Contains(ndr, want) {
			t.Errorf("report lacks %q:\n%s", want, ndr)
		}
	}
	if _, errOut, code := o.waypost("queue", "show", third.ID); code != 1 || !strings.Contains(errOut, "not in the queue") {
		t.Errorf("show of a removed message: exit %d, %s", code, errOut)
	}

	// 4. The smart host is back. Nothing happens by itself (the next attempt is an hour away) ...
	smart := startSink(t, o.sc.Vars["SMART_HOST"])
	time.Sleep(1500 * time.Millisecond)
	if smart.count() != 0 {
		t.Fatalf("the smart host got %d messages before any retry", smart.count())
	}
	if q := o.queues()[0]; q.NextRetry.Before(time.Now().Add(30 * time.Minute)) {
		t.Errorf("next retry %v, want an hour away", q.NextRetry)
	}
	// ... until retry: at once, held mail left alone.
	start := time.Now()
	out := o.ok("queue", "retry")
	if !strings.Contains(out, "retry: 1 recipient(s) of 1 message(s) due now") || !strings.Contains(out, "1 held recipient(s) left alone") {
		t.Errorf("retry: %s", out)
	}
	o.waitFor("the first message at the smart host", func() bool { return smart.got("first") })
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("retry took %s to deliver", d)
	}
	time.Sleep(500 * time.Millisecond)
	if smart.got("second") {
		t.Error("the held message was delivered")
	}
	// 5. Release: the held message goes at once.
	if out := o.ok("queue", "release", second.ID); !strings.Contains(out, "release: 1 recipient(s) of 1 message(s) released") {
		t.Errorf("release: %s", out)
	}
	o.waitFor("the second message at the smart host", func() bool { return smart.got("second") })
	o.waitFor("an empty queue", func() bool { return len(o.queues()) == 0 })

	// Each action is in the tracking log with who did it.
	track := o.sc.Track("hub1")
	for _, ev := range []string{"HOLD", "RETRY", "RELEASE", "REMOVE"} {
		re := regexp.MustCompile(`"event":"` + ev + `".*"actor":"[^"]*\(uid \d+\)"`)
		if !re.MatchString(track) {
			t.Errorf("no %s event with an actor in the tracking log:\n%s", ev, track)
		}
	}

	// Bad targets get clear answers.
	if _, errOut, code := o.waypost("queue", "show", "0123456789abcdef-0123456789ab"); code != 1 || !strings.Contains(errOut, "not in the queue") {
		t.Errorf("show of an unknown ID: exit %d: %s", code, errOut)
	}
	if _, errOut, code := o.waypost("queue", "hold"); code != 2 || !strings.Contains(errOut, "--all") {
		t.Errorf("hold without a target: exit %d: %s", code, errOut)
	}
	if _, errOut, code := o.waypost("queue", "list", "--state", "frozen"); code != 2 || !strings.Contains(errOut, "ready, retry, held") {
		t.Errorf("--state frozen: exit %d: %s", code, errOut)
	}
}

// Reload: a broken file is refused with every error and the hub goes on
// with the configuration in force; a good one adds a connector that
// reroute moves queued mail to; a scoped FAX connector added by editing
// the file (or by SIGHUP with the watcher off) changes the address-type
// version.
func TestReloadAndReroute(t *testing.T) {
	o := newOpsHub(t, 0) // one attempt, then an hour
	fabrikam := startSink(t, o.sc.Vars["FABRIKAM"])
	o.send("bob@fabrikam.test", "for bob")
	o.waitFor("bob's message on the Internet queue", func() bool {
		m := o.message("bob@")
		return m != nil && m.Recipients[0].Attempts == 1 && m.Recipients[0].NextHop == "connector:Internet@hub1"
	})
	status := func() control.Status {
		var st control.Status
		o.call(control.OpStatus, nil, &st)
		return st
	}
	var before control.Status
	if err := json.Unmarshal([]byte(o.ok("reload", "--show", "--json")), &before); err != nil || len(before.ConfigDigest) != 64 {
		t.Fatalf("reload --show --json: %v %+v", err, before)
	}

	// A broken file: two errors, both reported; the hub keeps serving.
	good := readFile(t, o.sc.File)
	harness.Write(t, o.sc.File, good+"\n[[send_connector]]\nname = \"Broken\"\naddress_spaces = [\"SMTP:fabrikam.test;1\"]\nsource_servers = [\"hub-nowhere\"]\ncolour = \"blue\"\ndelivery = { kind = \"smtp\", smart_hosts = [\"127.0.0.1:1\"] }\n")
	out, errOut, code := o.waypost("reload")
	if code != 1 || !strings.Contains(errOut, "keeps serving") || !strings.Contains(errOut, `unknown key "colour"`) || !strings.Contains(errOut, "hub-nowhere") {
		t.Errorf("reload of a broken file: exit %d\n%s%s", code, out, errOut)
	}
	if n := strings.Count(errOut, "org.toml:"); n < 2 {
		t.Errorf("want each error with its file and line, got %d:\n%s", n, errOut)
	}
	if !strings.Contains(o.h.Log(), "organization file refused") {
		t.Errorf("the refusal is not logged:\n%s", o.h.Log())
	}
	if st := status(); st.ConfigDigest != before.ConfigDigest {
		t.Errorf("the broken file was applied: %s -> %s", before.ConfigDigest, st.ConfigDigest)
	}
	o.send("alice@contoso.test", "still serving")
	o.waitFor("local delivery after the refused reload", func() bool {
		return len(harness.Maildir(t, o.sc.Data("hub1"), delivery.Folder("alice@contoso.test"))) == 1
	})
	// `waypost check` says the same (start-up's validation path).
	if _, errOut, code := o.waypost("check"); code != 1 || !strings.Contains(errOut, `unknown key "colour"`) || !strings.Contains(errOut, "hub-nowhere") {
		t.Errorf("check of the broken file: exit %d: %s", code, errOut)
	}

	// A good file adds a connector for fabrikam.test; reroute moves bob's message to it.
	o.sc.Vars["EXTRA"] = "[[send_connector]]\nname = \"Fabrikam\"\naddress_spaces = [\"SMTP:fabrikam.test;1\"]\nsource_servers = [\"hub1\"]\ndelivery = { kind = \"smtp\", smart_hosts = [\"" + o.sc.Vars["FABRIKAM"] + "\"] }\n"
	o.sc.Write()
	out = o.ok("reload")
	if !strings.Contains(out, `send connector "Fabrikam" added`) && !strings.Contains(out, "unchanged") {
		t.Errorf("reload: %s", out)
	}
	if st := status(); st.ConfigDigest == before.ConfigDigest {
		t.Error("the good file was not applied")
	}
	if fabrikam.count() != 0 {
		t.Fatal("bob's message moved before reroute")
	}
	out = o.ok("queue", "reroute")
	if !strings.Contains(out, "connector:Internet@hub1 -> connector:Fabrikam@hub1") {
		t.Errorf("reroute: %s", out)
	}
	o.waitFor("bob's message at the Fabrikam smart host", func() bool { return fabrikam.got("for bob") })
	if tr := o.sc.Track("hub1"); !strings.Contains(tr, `"event":"REROUTE"`) || !strings.Contains(tr, `"event":"RELOAD"`) {
		t.Errorf("tracking log lacks REROUTE or RELOAD:\n%s", tr)
	}

	// A scoped FAX connector, written to the file: the hub applies it within a second or so.
	v1 := addrtypesVersion(t, o)
	o.sc.Vars["EXTRA"] += "\n[[send_connector]]\nname = \"Fax\"\naddress_spaces = [\"FAX:*;1\"]\nsource_servers = [\"hub1\"]\nscoped = true\ndelivery = { kind = \"drop\", directory = \"fax-out\" }\n"
	o.sc.Write()
	v2 := addrtypesVersion(t, o)
	if v1 == v2 {
		t.Fatalf("waypost addrtypes: version %s did not change with a FAX connector", v1)
	}
	changed := time.Now()
	o.waitFor("the hub's address types to change", func() bool {
		for _, at := range status().AddressTypes {
			if at.Site == "HQ" && at.Version == v2 && strings.Join(at.Types, ",") == "FAX,SMTP" {
				return true
			}
		}
		return false
	})
	if d := time.Since(changed); d > 3*time.Second {
		t.Errorf("the file change took %s to apply", d)
	}
	if !strings.Contains(o.h.Log(), "address types changed") {
		t.Errorf("the log does not say the address types changed:\n%s", o.h.Log())
	}
}

// addrtypesVersion is the version `waypost addrtypes` gives site HQ.
func addrtypesVersion(t *testing.T, o *opsHub) string {
	t.Helper()
	out, err := exec.Command(harness.Binary(t), "addrtypes", "--config", o.sc.File, "--site", "HQ").Output()
	if err != nil {
		t.Fatalf("waypost addrtypes: %v", err)
	}
	var at control.AddrTypes
	if err := json.Unmarshal(out, &at); err != nil {
		t.Fatal(err)
	}
	return at.Version
}

// SIGHUP reloads (the file watcher is off here, so only the signal can
// have done it) and never stops the hub. The hub logs JSON here.
func TestSIGHUPReload(t *testing.T) {
	o := newOpsHub(t, 0, "--watch", "0", "--log-format", "json")
	version := func() string {
		var st control.Status
		o.call(control.OpStatus, nil, &st)
		return st.AddressTypes[0].Version
	}
	v1 := version()
	o.sc.Vars["EXTRA"] = "[[send_connector]]\nname = \"Fax\"\naddress_spaces = [\"FAX:*;1\"]\nsource_servers = [\"hub1\"]\nscoped = true\ndelivery = { kind = \"drop\", directory = \"fax-out\" }\n"
	o.sc.Write()
	time.Sleep(1200 * time.Millisecond)
	if v := version(); v != v1 {
		t.Fatalf("the address types changed without a reload (watch is off): %s -> %s", v1, v)
	}
	if err := o.h.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	o.waitFor("SIGHUP to apply the file", func() bool { return version() != v1 })
	// A broken file on SIGHUP: refused, logged, and the hub lives on.
	harness.Write(t, o.sc.File, readFile(t, o.sc.File)+"\nnonsense = true\n")
	if err := o.h.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	o.waitFor("the refusal in the log", func() bool { return strings.Contains(o.h.Log(), "organization file refused") })
	if !o.h.Alive() {
		t.Fatalf("SIGHUP stopped the hub:\n%s", o.h.Log())
	}
	if tr := o.sc.Track("hub1"); !strings.Contains(tr, `"actor":"signal SIGHUP"`) {
		t.Errorf("no RELOAD by signal SIGHUP in the tracking log:\n%s", tr)
	}
	o.send("alice@contoso.test", "after sighup")
	o.waitFor("delivery after SIGHUP", func() bool {
		return len(harness.Maildir(t, o.sc.Data("hub1"), delivery.Folder("alice@contoso.test"))) == 1
	})
	// Every log line is a JSON object with a level and a message.
	for _, line := range lines(o.h.Log()) {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level == "" || rec.Msg == "" {
			t.Errorf("--log-format json wrote %q (%v)", line, err)
		}
	}
}

// /metrics on the API listener: the counters and gauges match what the
// test did.
func TestMetrics(t *testing.T) {
	o := newOpsHub(t, 0) // the dead smart host: one attempt, then an hour
	o.send("alice@contoso.test", "local one")
	o.send("alice@contoso.test", "local two")
	o.send("carol@example.org", "outward")
	// An unknown local recipient: refused at RCPT with 550.
	if err := smtp.SendMail(o.sc.Vars["SMTP"], nil, "bob@fabrikam.test", []string{"nobody@contoso.test"}, []byte("Subject: x\r\n\r\nx\r\n")); err == nil {
		t.Fatal("mail to an unknown recipient was accepted")
	}
	o.waitFor("two local deliveries and one deferral", func() bool {
		tr := o.sc.Track("hub1")
		return strings.Count(tr, `"event":"DELIVER"`) == 2 && strings.Count(tr, `"event":"DEFER"`) == 1
	})
	want := map[string]float64{
		`waypost_messages_received_total{connector="Default"}`:                        3,
		`waypost_deliveries_total{class="2",connector="mailbox",outcome="delivered"}`: 2,
		`waypost_deliveries_total{class="4",connector="Internet",outcome="deferred"}`: 1,
		`waypost_delivery_latency_seconds_count{outcome="delivered"}`:                 2,
		`waypost_queue_messages{queue="connector:Internet@hub1"}`:                     1,
		`waypost_queue_recipients{queue="connector:Internet@hub1"}`:                   1,
		`waypost_queue_held_recipients{queue="connector:Internet@hub1"}`:              0,
		`waypost_queue_length`: 1,
		`waypost_smtp_rejects_total{code="550",connector="Default",enhanced="5.1.1"}`: 1,
		`waypost_smtp_sessions_total{connector="Default"}`:                            5, // the harness's readiness probe, three messages, the refused one
		`waypost_server_info{server="hub1"}`:                                          1,
	}
	// The counters follow the tracking log by a moment (a worker writes
	// its line, then counts): read until they agree, for a few seconds.
	m := scrapeUntil(t, o.sc.Vars["API"], want)
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if age := m[`waypost_queue_oldest_message_age_seconds{queue="connector:Internet@hub1"}`]; age <= 0 || age > 60 {
		t.Errorf("oldest message age %v", age)
	}
	// A removal with a report: a failure counted once, and a report.
	id := o.message("carol@").ID
	o.ok("queue", "remove", id, "--ndr")
	o.waitFor("the report delivered", func() bool { return strings.Count(o.sc.Track("hub1"), `"event":"DELIVER"`) == 3 })
	after := map[string]float64{
		`waypost_deliveries_total{class="5",connector="Internet",outcome="failed"}`:   1,
		`waypost_delivery_latency_seconds_count{outcome="failed"}`:                    1,
		`waypost_reports_generated_total{kind="ndr"}`:                                 1,
		`waypost_deliveries_total{class="2",connector="mailbox",outcome="delivered"}`: 3,
		`waypost_queue_length`:                         0,
		`waypost_admin_actions_total{action="remove"}`: 1,
	}
	m = scrapeUntil(t, o.sc.Vars["API"], after)
	for k, v := range after {
		if got := m[k]; got != v {
			t.Errorf("after remove --ndr: %s = %v, want %v", k, got, v)
		}
	}
	if _, ok := m[`waypost_queue_messages{queue="connector:Internet@hub1"}`]; ok {
		t.Error("an empty queue is still reported")
	}
}

// scrapeUntil scrapes /metrics until every metric of want has its value,
// for up to 5 seconds, and returns the last scrape.
func scrapeUntil(t *testing.T, addr string, want map[string]float64) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := scrape(t, addr)
		agree := true
		for k, v := range want {
			if got, ok := m[k]; !ok || got != v {
				agree = false
			}
		}
		if agree || time.Now().After(deadline) {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scrape reads /metrics into a map from "name{labels}" to value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("/metrics: %s\n%s", resp.Status, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}
