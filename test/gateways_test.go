package test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/test/harness"
)

// faxPipe is the program of the "Fax Pipe" connector: it records each
// call's argv, NUL-separated, and the message, then answers by the
// number (its second argument): ...0299 is not a fax number (exit 1, with
// a message on stderr); ...0275 is busy (exit 75) while the file "busy"
// is beside the script; anything else is sent (exit 0).
const faxPipe = `#!/bin/sh
dir=$(dirname "$0")
mkdir -p "$dir/calls"
call="$dir/calls/$(date +%s%N)-$$"
for a in "$@"; do printf '%s\0' "$a"; done > "$call.argv"
cat > "$call.msg"
case "$2" in
*0299) echo "fax-pipe: $2 is not a fax number (invalid number)" >&2; exit 1 ;;
*0275) if [ -e "$dir/busy" ]; then echo "fax-pipe: $2 is busy" >&2; exit 75; fi ;;
esac
exit 0
`

// gateways is the scenario of test/scenarios/gateways, running.
type gateways struct {
	*scenario
	hook *smsHook
	hub  *harness.Hub
}

// smsHook is the SMS service behind the webhook connector: a real HTTP
// server on loopback. +1 555 0300 is accepted; +1 555 0303 is refused
// with 503 the first time, then accepted; +1 555 0340 is refused with 400.
type smsHook struct {
	mu    sync.Mutex
	calls map[string]int // by number
}

func (s *smsHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var env delivery.WebhookEnvelope
	if err := json.NewDecoder(r.Body).Decode(&env); err != nil || len(env.Recipients) != 1 || env.Message == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	n := env.Recipients[0].Address
	s.mu.Lock()
	s.calls[n]++
	calls := s.calls[n]
	s.mu.Unlock()
	switch {
	case n == "+1 555 0303" && calls == 1:
		http.Error(w, "try later", http.StatusServiceUnavailable)
	case n == "+1 555 0340":
		http.Error(w, "invalid number "+n, http.StatusBadRequest)
	default:
		fmt.Fprintln(w, "queued")
	}
}

func (s *smsHook) count(n string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[n]
}

func startGateways(t *testing.T) *gateways {
	t.Helper()
	hook := &smsHook{calls: map[string]int{}}
	srv := httptest.NewServer(hook) // 127.0.0.1
	t.Cleanup(srv.Close)
	sc := newScenario(t, "gateways", map[string]string{"HOOK_URL": srv.URL + "/sms"}, "A_RELAY", "A_SMTP", "B_RELAY")
	if err := os.WriteFile(filepath.Join(sc.Dir, "fax-pipe"), []byte(faxPipe), 0o755); err != nil {
		t.Fatal(err)
	}
	h := harness.Start(t, sc.File, "hub-a", sc.Vars["A_SMTP"], sc.Vars["A_RELAY"])
	return &gateways{scenario: sc, hook: hook, hub: h}
}

// send sends msg over SMTP to hub-a with NOTIFY as given (nil: none).
func (g *gateways) send(from string, to []string, notify []gosmtp.DSNNotify, msg string) error {
	c, err := gosmtp.Dial(g.Vars["A_SMTP"])
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.fabrikam.test"); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, &gosmtp.RcptOptions{Notify: notify}); err != nil {
			return fmt.Errorf("RCPT %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func (g *gateways) mustSend(t *testing.T, from string, to []string, notify []gosmtp.DSNNotify, subject string) {
	t.Helper()
	msg := "From: <" + from + ">\r\nSubject: " + subject + "\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@fabrikam.test>\r\n\r\npage one\r\n"
	if err := g.send(from, to, notify, msg); err != nil {
		t.Fatal(err)
	}
}

// events are the tracking events of hub-a that satisfy keep.
func (g *gateways) events(keep func(e map[string]string) bool) []map[string]string {
	var out []map[string]string
	for _, line := range strings.Split(g.Track("hub-a"), "\n") {
		var e map[string]string
		if json.Unmarshal([]byte(line), &e) == nil && keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// event waits for a tracking event named ev whose recipient contains rcpt.
func (g *gateways) event(t *testing.T, ev, rcpt string) map[string]string {
	t.Helper()
	var got []map[string]string
	harness.WaitFor(t, 20*time.Second, ev+" of "+rcpt, func() bool {
		got = g.events(func(e map[string]string) bool { return e["event"] == ev && strings.Contains(e["recipient"], rcpt) })
		return len(got) > 0
	})
	return got[0]
}

// settled waits until the queue no longer holds the message id: every
// recipient is final and its reports, if any, are queued.
func (g *gateways) settled(t *testing.T, id string) {
	t.Helper()
	harness.WaitFor(t, 20*time.Second, "message "+id+" to leave the queue", func() bool {
		_, err := os.Stat(filepath.Join(g.Data("hub-a"), "queue", "msg", id))
		return errors.Is(err, os.ErrNotExist)
	})
}

// mailbox waits for n messages in a mailbox and returns them.
func (g *gateways) mailbox(t *testing.T, user string, n int) []string {
	t.Helper()
	var msgs []string
	harness.WaitFor(t, 20*time.Second, fmt.Sprintf("%d messages for %s", n, user), func() bool {
		msgs = harness.Maildir(t, g.Data("hub-a"), delivery.Folder(user))
		return len(msgs) >= n
	})
	if len(msgs) != n {
		t.Fatalf("%s has %d messages, want %d", user, len(msgs), n)
	}
	return msgs
}

// call is one run of the fax program.
type call struct {
	argv []string
	msg  string
}

// calls are the runs of the fax program so far, in order.
func (g *gateways) calls(t *testing.T) []call {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(g.Dir, "calls", "*.argv"))
	slices.Sort(names)
	var out []call
	for _, n := range names {
		argv, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := os.ReadFile(strings.TrimSuffix(n, ".argv") + ".msg")
		out = append(out, call{argv: strings.Split(strings.TrimSuffix(string(argv), "\x00"), "\x00"), msg: string(msg)})
	}
	return out
}

func fax(number string) string { return address.EncodeIMCEA("FAX", number, "contoso.test") }

// TestDropFolderGateway: a one-off fax recipient, as a client writes it
// in SMTP (IMCEA), lands in the drop folder with the envelope first.
func TestDropFolderGateway(t *testing.T) {
	g := startGateways(t)
	to := "IMCEAFAX-+2B1+20555+200100@contoso.test" // [FAX:+1 555 0100], interfaces.md section 2
	if to != fax("+1 555 0100") {
		t.Fatalf("IMCEA form %s, want %s", fax("+1 555 0100"), to)
	}
	x400 := address.EncodeIMCEA("X400", "c=US;a= ;p=Contoso;o=HQ;s=Smith", "contoso.test")
	g.mustSend(t, "alice@contoso.test", []string{to, x400}, nil, "drop test")
	for dir, rcpt := range map[string]string{"fax-out": to, "x400-out": x400} {
		var files []string
		harness.WaitFor(t, 20*time.Second, "a file in "+dir, func() bool {
			files, _ = filepath.Glob(filepath.Join(g.Dir, dir, "*.eml"))
			return len(files) > 0
		})
		got := readFile(t, files[0])
		if head, rest, ok := strings.Cut(got, ">\r\nAuthentication-Results: "); ok {
			got = head + ">\r\n" + withoutAuthResults("Authentication-Results: "+rest)
		}
		want := "X-Sender: <alice@contoso.test>\r\nX-Receiver: <" + rcpt + ">\r\nReceived: "
		if !strings.HasPrefix(got, want) || !strings.Contains(got, "Subject: drop test\r\n") {
			t.Errorf("%s: the file starts\n%.300s\nwant the envelope lines\n%s", dir, got, want)
		}
	}
	send := g.event(t, "SEND", "+1 555 0100")
	if send["next_hop"] != "connector:Fax Drop@hub-a" {
		t.Errorf("tracking: %v", send)
	}
}

// TestPipeGateway: the program's exit codes (0 delivered, 75 retried
// until it succeeds, 1 a report with its stderr).
func TestPipeGateway(t *testing.T) {
	g := startGateways(t)
	busy := filepath.Join(g.Dir, "busy")
	harness.Write(t, busy, "")

	g.mustSend(t, "bob@contoso.test", []string{fax("+1 555 0200")}, nil, "fax ok")
	g.event(t, "SEND", "+1 555 0200")
	calls := g.calls(t)
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	want := []string{"-n", "+1 555 0200", "-f", "bob@contoso.test", "-r", fax("+1 555 0200"), "-t", "FAX"}
	if !slices.Equal(calls[0].argv, want) || !strings.Contains(calls[0].msg, "Subject: fax ok\r\n") {
		t.Errorf("the program got argv %q (want %q) and the message\n%s", calls[0].argv, want, calls[0].msg)
	}

	g.mustSend(t, "bob@contoso.test", []string{fax("+1 555 0275")}, nil, "fax busy")
	d := g.event(t, "DEFER", "+1 555 0275")
	if d["status"] != "4.3.0" || !strings.Contains(d["detail"], "is busy") {
		t.Errorf("deferral: %v", d)
	}
	harness.WaitFor(t, 20*time.Second, "a second try", func() bool { return len(g.calls(t)) >= 3 })
	if n := len(g.events(func(e map[string]string) bool {
		return e["event"] == "SEND" && strings.Contains(e["recipient"], "0275")
	})); n != 0 {
		t.Fatalf("sent while busy")
	}
	os.Remove(busy)
	g.event(t, "SEND", "+1 555 0275")

	g.mustSend(t, "carol@contoso.test", []string{fax("+1 555 0299")}, nil, "fax invalid")
	fail := g.event(t, "FAIL", "+1 555 0299")
	if fail["status"] != "5.3.0" {
		t.Errorf("failure: %v", fail)
	}
	r := parseReport(t, g.mailbox(t, "carol@contoso.test", 1)[0])
	if r.Subject != "Undeliverable: fax invalid" {
		t.Errorf("subject %q", r.Subject)
	}
	b := r.recipient(t, "FAX", "+1 555 0299")
	failed(t, b, "5.3.0", "fax-pipe: +1 555 0299 is not a fax number (invalid number)")
	if !strings.HasSuffix(b["Remote-MTA"], "fax-pipe") {
		t.Errorf("Remote-MTA %q, want the program", b["Remote-MTA"])
	}
	if !strings.Contains(r.Text, "[FAX:+1 555 0299]") && !strings.Contains(r.Text, fax("+1 555 0299")) {
		t.Errorf("the human part does not name the recipient as written:\n%s", r.Text)
	}
	// Bob's two faxes went: no report for him.
	if n := len(harness.Maildir(t, g.Data("hub-a"), delivery.Folder("bob@contoso.test"))); n != 0 {
		t.Errorf("bob has %d reports for faxes that went", n)
	}
}

// TestWebhookGateway: an SMS service answering 200, 503 then 200, and 400.
func TestWebhookGateway(t *testing.T) {
	g := startGateways(t)
	sms := func(n string) string { return address.EncodeIMCEA("SMS", n, "contoso.test") }
	g.mustSend(t, "alice@contoso.test", []string{sms("+1 555 0300")}, nil, "sms ok")
	g.mustSend(t, "alice@contoso.test", []string{sms("+1 555 0303")}, nil, "sms later")
	g.mustSend(t, "dave@contoso.test", []string{sms("+1 555 0340")}, nil, "sms invalid")
	g.event(t, "SEND", "+1 555 0300")
	d := g.event(t, "DEFER", "+1 555 0303")
	if d["status"] != "4.4.2" || !strings.Contains(d["detail"], "503") {
		t.Errorf("deferral: %v", d)
	}
	g.event(t, "SEND", "+1 555 0303")
	if g.hook.count("+1 555 0300") != 1 || g.hook.count("+1 555 0303") != 2 {
		t.Errorf("posts: %v", g.hook.calls)
	}
	r := parseReport(t, g.mailbox(t, "dave@contoso.test", 1)[0])
	b := r.recipient(t, "SMS", "+1 555 0340")
	failed(t, b, "5.3.0", "550 5.3.0 HTTP/1.1 400 Bad Request: invalid number +1 555 0340")
	if g.hook.count("+1 555 0340") != 1 {
		t.Errorf("a refused message was posted %d times", g.hook.count("+1 555 0340"))
	}
	if n := len(harness.Maildir(t, g.Data("hub-a"), delivery.Folder("alice@contoso.test"))); n != 0 {
		t.Errorf("alice has %d reports for messages that went", n)
	}
}

// TestNoConnectorForType: an SMS number no connector in scope takes (the
// only SMS connector for it is scoped to site B) is refused at once with
// 5.4.4 and Exchange's diagnostic (exchange-semantics.md section 8.9).
func TestNoConnectorForType(t *testing.T) {
	g := startGateways(t)
	to := address.EncodeIMCEA("SMS", "+44 20 7946 0000", "contoso.test")
	g.mustSend(t, "alice@contoso.test", []string{to}, nil, "sms abroad")
	f := g.event(t, "FAIL", "+44 20 7946 0000")
	if f["status"] != "5.4.4" {
		t.Errorf("tracking: %v", f)
	}
	r := parseReport(t, g.mailbox(t, "alice@contoso.test", 1)[0])
	b := r.recipient(t, "SMS", "+44 20 7946 0000")
	failed(t, b, "5.4.4")
	if b["Diagnostic-Code"] != "smtp; 550 5.4.4 ROUTING.NoConnectorForAddressType; unable to route for address type" {
		t.Errorf("Diagnostic-Code %q", b["Diagnostic-Code"])
	}
	if !strings.Contains(r.Text, "None of the organization's connectors can send to SMS addresses") {
		t.Errorf("the human part does not say why:\n%s", r.Text)
	}
	if n := len(g.events(func(e map[string]string) bool { return e["event"] == "DEFER" })); n != 0 || g.hook.count("+44 20 7946 0000") != 0 {
		t.Errorf("an unroutable recipient was tried (%d deferrals)", n)
	}
}

// TestHostileAddressesToAProgram, through the hub: whatever an
// address holds reaches the program as one argv element, or is refused at
// RCPT; nothing runs.
func TestHostileAddressesToAProgram(t *testing.T) {
	g := startGateways(t)
	canary := filepath.Join(g.Dir, "pwned")
	hostile := []string{
		"+1 555 0201$(touch " + canary + ")",
		"+1 555 0202`touch " + canary + "`",
		"+1 555 0203; touch " + canary,
		"+1 555 0204 | touch " + canary,
		"+1 555 0205\ntouch " + canary,
		"+1 555 0206${run{/bin/touch " + canary + "}}",
		"+1 555 0207'\"; touch " + canary + "; echo '",
		"+1 555 0208 && touch " + canary + " #",
	}
	for i, h := range hostile {
		g.mustSend(t, "alice@contoso.test", []string{fax(h)}, nil, fmt.Sprintf("hostile %d", i))
	}
	// In RCPT as written, not encoded: refused (5.1.3 syntax, or 5.1.1
	// because it is no IMCEA address at all), never run.
	for _, raw := range []string{
		"IMCEAFAX-+2B1+20555+2002;touch+20x@contoso.test",
		"IMCEAFAX-+2B1+20555+2002`touch`|id${run{x}}@contoso.test",
	} {
		err := g.send("alice@contoso.test", []string{raw}, nil, "Subject: raw\r\n\r\nx\r\n")
		var se *gosmtp.SMTPError
		if !errors.As(err, &se) || se.Code/100 != 5 {
			t.Errorf("RCPT %s: %v, want a 5xx refusal", raw, err)
		}
	}
	// A sender with shell characters (all legal in a local part).
	sender := "a`id`|b${IFS}c@fabrikam.test"
	g.mustSend(t, sender, []string{fax("+1 555 0209")}, nil, "hostile sender")
	for _, h := range append(slices.Clone(hostile), "+1 555 0209") {
		g.event(t, "SEND", strings.SplitN(h, "\n", 2)[0])
	}
	calls := g.calls(t)
	if len(calls) != len(hostile)+1 {
		t.Fatalf("%d calls, want %d", len(calls), len(hostile)+1)
	}
	seen := map[string]bool{}
	for _, c := range calls {
		if len(c.argv) != 8 || c.argv[0] != "-n" || c.argv[2] != "-f" || c.argv[4] != "-r" || c.argv[6] != "-t" {
			t.Errorf("argv %q: an address became more or fewer than one argument", c.argv)
			continue
		}
		seen[c.argv[1]] = true
		if c.argv[5] != fax(c.argv[1]) {
			t.Errorf("{recipient} %q, want %q", c.argv[5], fax(c.argv[1]))
		}
		if c.argv[1] == "+1 555 0209" && c.argv[3] != sender {
			t.Errorf("{sender} %q, want %q", c.argv[3], sender)
		}
	}
	for _, h := range hostile {
		if !seen[h] {
			t.Errorf("address %q did not arrive as one argument; got %v", h, seen)
		}
	}
	if _, err := os.Stat(canary); err == nil {
		t.Fatal("an address ran a command")
	}
	if _, err := os.Stat("x"); err == nil {
		t.Fatal("an address ran a command in the hub's folder")
	}
}

// TestNoReportWhenNotWanted: a failure from the null sender gets no
// report (no double bounce), nor one with NOTIFY=NEVER.
func TestNoReportWhenNotWanted(t *testing.T) {
	g := startGateways(t)
	bad := fax("+1 555 0299")
	if err := g.send("", []string{bad}, nil, "From: <fax@fabrikam.test>\r\nSubject: from nobody\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	g.mustSend(t, "alice@contoso.test", []string{bad}, []gosmtp.DSNNotify{gosmtp.DSNNotifyNever}, "never tell")
	var fails []map[string]string
	harness.WaitFor(t, 20*time.Second, "both failures", func() bool {
		fails = g.events(func(e map[string]string) bool {
			return e["event"] == "FAIL" && strings.Contains(e["recipient"], "0299")
		})
		return len(fails) == 2
	})
	for _, f := range fails {
		g.settled(t, f["id"])
		if dsn := g.events(func(e map[string]string) bool { return e["event"] == "DSN" && e["id"] == f["id"] }); len(dsn) > 0 && dsn[0]["detail"] != "double bounce discarded" {
			t.Errorf("a report was queued for %s: %v", f["id"], dsn)
		}
	}
	if n := len(g.events(func(e map[string]string) bool { return e["detail"] == "double bounce discarded" })); n != 1 {
		t.Errorf("%d double bounces logged, want 1", n)
	}
	if n := len(harness.Maildir(t, g.Data("hub-a"), delivery.Folder("alice@contoso.test"))); n != 0 {
		t.Errorf("alice has %d reports after NOTIFY=NEVER", n)
	}
	if msgs := queuedFiles(t, g.Data("hub-a")); len(msgs) != 0 {
		t.Errorf("queue holds %v: a report waiting to go?", msgs)
	}
}

// TestPickupFolder: the X.400 gateway's pickup folder. A complete file is
// taken into the queue and delivered to a mailbox; a bad one goes to
// badmail/ with the reason beside it; a file still being written is left.
func TestPickupFolder(t *testing.T) {
	g := startGateways(t)
	in := filepath.Join(g.Dir, "x400-in")
	harness.WaitFor(t, 10*time.Second, "the hub to create the pickup folder", func() bool {
		_, err := os.Stat(in)
		return err == nil
	})
	// As a gateway writes: a temporary name, then rename.
	report := "X-Sender: <>\nX-Receiver: <alice@contoso.test>\nFrom: X.400 Gateway <x400gw@contoso.test>\nTo: alice@contoso.test\n" +
		"Subject: X.400 delivery report\nMessage-ID: <r1@x400gw.contoso.test>\n\nYour message to c=US;p=Contoso;s=Smith was delivered.\n"
	harness.Write(t, filepath.Join(in, "r1.eml.tmp"), report)
	harness.Write(t, filepath.Join(in, ".r2.eml"), report)
	if err := os.Rename(filepath.Join(in, "r1.eml.tmp"), filepath.Join(in, "r1.eml")); err != nil {
		t.Fatal(err)
	}
	smith := address.EncodeIMCEA("X400", "c=US;a= ;p=Contoso;o=HQ;s=Smith", "contoso.test")
	harness.Write(t, filepath.Join(in, "inbound.eml"), "From: Smith <"+smith+">\nTo: Bob <bob@contoso.test>\nBcc: carol@contoso.test\nSubject: from X.400\n\nhello\n")
	harness.Write(t, filepath.Join(in, "nobody.eml"), "From: x400gw@contoso.test\nSubject: to nobody\n\n")

	got := g.mailbox(t, "alice@contoso.test", 1)[0]
	for _, want := range []string{"Return-Path: <>\r\n", "Received: from pickup folder of connector X400\r\n", "Subject: X.400 delivery report\r\n", "was delivered.\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("picked-up report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "X-Receiver") {
		t.Errorf("the envelope lines were not removed:\n%s", got)
	}
	bob := g.mailbox(t, "bob@contoso.test", 1)[0]
	carol := g.mailbox(t, "carol@contoso.test", 1)[0]
	if strings.Contains(bob, "Bcc") || strings.Contains(carol, "Bcc") || !strings.Contains(carol, "Subject: from X.400") {
		t.Errorf("header-addressed file: Bcc must reach carol and be removed:\n%s", bob)
	}
	rcv := g.event(t, "RECEIVE", "alice@contoso.test")
	if rcv["detail"] != "via pickup X400" || rcv["message_id"] != "<r1@x400gw.contoso.test>" {
		t.Errorf("tracking: %v", rcv)
	}
	harness.WaitFor(t, 10*time.Second, "nobody.eml in badmail", func() bool {
		_, err := os.Stat(filepath.Join(in, "badmail", "nobody.eml.reason"))
		return err == nil
	})
	reason := readFile(t, filepath.Join(in, "badmail", "nobody.eml.reason"))
	if !strings.Contains(reason, "no recipients") || !strings.Contains(reason, "fix: ") {
		t.Errorf("reason file:\n%s", reason)
	}
	if readFile(t, filepath.Join(in, "badmail", "nobody.eml")) != "From: x400gw@contoso.test\nSubject: to nobody\n\n" {
		t.Error("the bad file was changed")
	}
	entries, _ := os.ReadDir(in)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if !slices.Equal(left, []string{".r2.eml", "badmail"}) {
		t.Errorf("pickup folder holds %q; want the file being written and badmail/", left)
	}
	if log := g.hub.Log(); !strings.Contains(log, "pickup file moved to badmail") || !strings.Contains(log, "nobody.eml") {
		t.Errorf("the bad file is not logged:\n%s", log)
	}
}

// queuedFiles lists the queue files of the hub with data folder data:
// msg/ without the removed files kept for reuse (msg/free-*,
// internal/queue/doc.go, "Reuse"), which hold no message.
func queuedFiles(t *testing.T, data string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(data, "queue", "msg"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "free-") {
			out = append(out, e.Name())
		}
	}
	return out
}
