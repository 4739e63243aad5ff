package test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/hub"
	"github.com/waypost/waypost/test/harness"
)

// consoleShots, when set, is the folder the browser test saves its
// screenshots of the console in (docs/images: scripts/screenshots.sh).
var consoleShots = flag.String("console-screenshots", "", "save screenshots of the console's pages in this folder")

// chromium finds the browser: chromium (Debian's package, which
// scripts/test.sh installs) or Chrome. Without one the test is skipped,
// except in CI, where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium in PATH: scripts/test.sh installs Debian's chromium package")
	}
	t.Skip("no chromium in PATH (apt-get install chromium)")
	return ""
}

// TestConsoleInBrowser drives Chromium through the console of a real hub
// serving the seed's organization (a FAX connector scoped to Branch):
// sign-in with a wrong and then the right password, each page, a route
// explained, a message held and released from the queue pages as
// `waypost queue list` sees it, a POST without its CSRF token refused and
// a mailbox that is not an administrator refused.
func TestConsoleInBrowser(t *testing.T) {
	exe := chromium(t)
	dir := t.TempDir()
	smtpAddr, apiAddr, branchAPI, relayHQ, relayBranch := harness.Port(t), harness.Port(t), harness.Port(t), harness.Port(t), harness.Port(t)
	harness.Write(t, filepath.Join(dir, "hub.secret"), "0123456789abcdef0123456789abcdef\n")
	carol, err := hub.HashPassword("carol's password")
	if err != nil {
		t.Fatal(err)
	}
	dave, _ := hub.HashPassword("dave's password")
	file := filepath.Join(dir, "contoso.toml")
	harness.Write(t, file, fmt.Sprintf(`[organization]
name = "Contoso"
default_domain = "contoso.test"
hub_secret_file = "hub.secret"
administrators = ["Carol"]

[[site]]
name = "HQ"
[[site]]
name = "Branch"
[[site_link]]
name = "HQ-Branch"
sites = ["HQ", "Branch"]
cost = 10

[[server]]
name = "hub-hq"
site = "HQ"
data_dir = "data/hub-hq"
relay = %q
api = %q
  [[server.receive]]
  name = "Default"
  listen = %q
  kind = "smtp"
  relay_ranges = ["127.0.0.0/8"]

[[server]]
name = "hub-branch"
site = "Branch"
data_dir = "data/hub-branch"
relay = %q
api = %q

[[accepted_domain]]
domain = "contoso.test"
type = "authoritative"

[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;10"]
source_servers = ["hub-hq"]
delivery = { kind = "smtp", smart_hosts = ["127.0.0.1:1"] }   # nobody listens: mail waits in the queue

[[send_connector]]
name = "Branch Fax"
address_spaces = ["FAX:*;1"]
source_servers = ["hub-branch"]
scoped = true
delivery = { kind = "drop", directory = "fax-out" }

[[recipient]]
name = "Carol"
kind = "mailbox"
server = "hub-hq"
addresses = ["SMTP:carol@contoso.test"]
password_hash = %q

[[recipient]]
name = "Dave"
kind = "mailbox"
server = "hub-hq"
addresses = ["SMTP:dave@contoso.test"]
password_hash = %q
`, relayHQ, apiAddr, smtpAddr, relayBranch, branchAPI, carol, dave))
	os.MkdirAll(filepath.Join(dir, "fax-out"), 0o700)
	h := harness.Start(t, file, "hub-hq", smtpAddr, apiAddr)
	defer h.Stop()
	base := "http://" + apiAddr

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelT()
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\nhub log:\n%s", what, err, h.Log())
		}
	}
	tryText := func(sel string) (string, error) {
		read := chromedp.Text(chromedp.CSS(sel))
		if strings.HasPrefix(sel, "svg") { // SVG elements have no innerText
			read = chromedp.TextContent(chromedp.CSS(sel))
		}
		return chromedp.Run(ctx, read)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := tryText(sel)
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		if *consoleShots == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(*consoleShots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitText := func(sel, want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			// An error is a page being replaced (a node of the old
			// document read as the new one arrives): read again.
			got, err := tryText(sel)
			if err == nil && strings.Contains(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s shows %q (%v), want %q", sel, got, err, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// Sign-in: a wrong password, then the right one.
	run("open the console", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS("#user")))
	shot("console-login")
	run("wrong password", chromedp.SendKeys(chromedp.CSS("#user"), "carol@contoso.test"), chromedp.SendKeys(chromedp.CSS("#password"), "not her password"),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS(".error")))
	if got := text(".error"); !strings.Contains(got, "Wrong user name or password") {
		t.Fatalf("after a wrong password: %q", got)
	}
	run("right password", chromedp.SendKeys(chromedp.CSS("#password"), "carol's password"), chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#hubs")))

	// Overview: this hub, the Branch hub (not running: down), live numbers.
	waitText(`#hubs tr[data-hub="hub-hq"]`, "this hub")
	waitText(`#hubs tr[data-hub="hub-branch"]`, "down")
	if got := text(`[data-live="received_last_hour"]`); got != "0" {
		t.Fatalf("received in the last hour before any mail: %q", got)
	}
	msg := "From: alice@contoso.test\r\nTo: bob@fabrikam.test\r\nSubject: for the console\r\nMessage-ID: <console-1@contoso.test>\r\n\r\nbody\r\n"
	if err := smtp.SendMail(smtpAddr, nil, "alice@contoso.test", []string{"bob@fabrikam.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	waitText(`[data-live="received_last_hour"]`, "1") // without reloading the page
	waitText(`#hubs tr[data-hub="hub-hq"] [data-field="messages"]`, "1")
	shot("console-overview")

	// Topology: the map, and a site's box opens its address types.
	run("topology", chromedp.Navigate(base+"/console/topology"), chromedp.WaitVisible(chromedp.CSS("svg.topology")))
	waitText("svg.topology", "Branch Fax: FAX:*;1 [scoped]")
	waitText("svg.topology", "HQ-Branch · cost 10")
	shot("console-topology")
	run("click Branch", chromedp.Click(chromedp.CSS(`a[data-site="Branch"] rect`)), chromedp.WaitVisible(chromedp.CSS("#offered")))

	// Address types: FAX in Branch only; before the fix, not even there.
	if got, pre := text("#offered"), text("#prefix"); got != "FAX, SMTP" || pre != "SMTP" {
		t.Errorf("Branch offers %q (before the fix %q), want FAX, SMTP (SMTP)", got, pre)
	}
	waitText(`tr.differs[data-type="FAX"]`, "Branch Fax")
	shot("console-address-types")
	run("HQ's types", chromedp.Navigate(base+"/console/address-types?site=HQ"), chromedp.WaitVisible(chromedp.CSS("#offered")))
	if got := text("#offered"); got != "SMTP" {
		t.Errorf("HQ offers %q, want SMTP", got)
	}
	waitText(`tr[data-type="FAX"]`, "not usable here: scoped to site Branch")
	out, err := exec.Command(harness.Binary(t), "addrtypes", "--config", file, "--site", "Branch").Output()
	if err != nil || !strings.Contains(string(out), `"types":["FAX","SMTP"]`) {
		t.Errorf("waypost addrtypes disagrees with the console: %v %s", err, out)
	}

	// A route explained.
	run("route", chromedp.Navigate(base+"/console/route"), chromedp.WaitVisible(chromedp.CSS("#recipient")),
		chromedp.SendKeys(chromedp.CSS("#recipient"), "[FAX:+1 555 0100]"), chromedp.SetValue(chromedp.CSS("#rsite"), "Branch"),
		chromedp.Submit(chromedp.CSS("#recipient")), chromedp.WaitVisible(chromedp.CSS("#explain")))
	waitText("#decision", "Branch Fax at hub-branch")
	waitText("#explain tr.chosen", "Branch Fax")
	waitText("#explain", "no address space matches FAX:+1 555 0100")
	shot("console-route")

	// Queues: the message waits for the Internet connector; hold it.
	run("queues", chromedp.Navigate(base+"/console/queues"), chromedp.WaitVisible(chromedp.CSS("#queues")))
	waitText("#queues", "connector:Internet@hub-hq")
	shot("console-queues")
	run("open the queue", chromedp.Click(chromedp.CSS(`#queues tr[data-queue="connector:Internet@hub-hq"] a`)), chromedp.WaitVisible(chromedp.CSS("#messages")))
	run("open the message", chromedp.Click(chromedp.CSS("#messages a")), chromedp.WaitVisible(chromedp.CSS("#recipients")))
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new URLSearchParams(location.search).get("id")`))
	if err != nil {
		t.Fatal(err)
	}
	run("hold", chromedp.Click(chromedp.CSS(`#message-actions button[value="hold"]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	waitText(".flash", "hold: 1 recipient(s) of 1 message(s) changed")
	waitText("#recipients", "held")
	if got := cliState(t, file, id); got != "held" {
		t.Fatalf("waypost queue list after the console's hold: %q, want held", got)
	}
	shot("console-message")

	// A POST whose CSRF token was taken out of the form is refused.
	run("forged release", chromedp.Evaluate[chromedp.Void](`document.querySelector('#message-actions input[name="csrf"]').remove()`),
		chromedp.Click(chromedp.CSS(`#message-actions button[value="release"]`)), chromedp.WaitVisible(chromedp.CSS("h1")))
	waitText("main", "security token (CSRF) is missing or wrong")
	if got := cliState(t, file, id); got != "held" {
		t.Fatalf("a release without the CSRF token changed the message: %q", got)
	}

	run("release", chromedp.Navigate(base+"/console/queues/message?id="+id), chromedp.WaitVisible(chromedp.CSS("#message-actions")),
		chromedp.Click(chromedp.CSS(`#message-actions button[value="release"]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	waitText(".flash", "release: 1 recipient(s)")
	if got := cliState(t, file, id); got == "held" {
		t.Fatal("waypost queue list still shows the recipient held after the console's release")
	}

	// Tracking: the message's events with Carol's actions.
	run("tracking", chromedp.Navigate(base+"/console/tracking"), chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), "console-1@contoso.test"), chromedp.Submit(chromedp.CSS("#q")), chromedp.WaitVisible(chromedp.CSS("#events")))
	waitText("#events", "RECEIVE")
	run("tracking by ID", chromedp.Navigate(base+"/console/tracking?q="+id), chromedp.WaitVisible(chromedp.CSS("#events")))
	waitText("#events", "HOLD")
	waitText("#events", "Carol")
	shot("console-tracking")

	// Config: in force, hashes masked.
	run("config", chromedp.Navigate(base+"/console/config"), chromedp.WaitVisible(chromedp.CSS("#config-text")))
	cfg := text("#config-text")
	if !strings.Contains(cfg, `administrators = ["Carol"]`) || strings.Contains(cfg, "$2a$") || !strings.Contains(cfg, "(masked)") {
		t.Errorf("config page:\n%s", cfg)
	}
	shot("console-config")

	// At a phone's width every page still reads: nothing makes the page
	// itself scroll sideways (wide tables scroll in their own box).
	for _, path := range []string{"/console/", "/console/topology", "/console/address-types?site=Branch", "/console/route?recipient=%5BFAX%3A1%5D&site=Branch",
		"/console/queues", "/console/queues/message?id=" + id, "/console/tracking?q=" + id, "/console/config"} {
		run("390 px "+path, chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("h1")))
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
		if err != nil {
			t.Fatal(err)
		}
		if wide {
			t.Errorf("%s is wider than a 390 px screen", path)
		}
	}
	run("390 px overview", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS("#hubs")))
	shot("console-overview-390")
	run("desktop again", chromedp.EmulateReset())

	// Sign out; Dave, who is not an administrator, is refused.
	run("sign out", chromedp.Click(chromedp.CSS(".signout button")), chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), "dave@contoso.test"), chromedp.SendKeys(chromedp.CSS("#password"), "dave's password"),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("h1")))
	waitText("h1", "Not an administrator")
	run("Dave's queues", chromedp.Navigate(base+"/console/queues"), chromedp.WaitVisible(chromedp.CSS("h1")))
	waitText("h1", "Not an administrator")
}

// cliState is the state `waypost queue list --messages --json` gives the
// first recipient of message id.
func cliState(t *testing.T, file, id string) string {
	t.Helper()
	out, err := exec.Command(harness.Binary(t), "queue", "--config", file, "--server", "hub-hq", "list", "--messages", "--json").Output()
	if err != nil {
		t.Fatalf("waypost queue list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m control.Message
		if json.Unmarshal([]byte(line), &m) == nil && m.ID == id && len(m.Recipients) > 0 {
			return m.Recipients[0].State
		}
	}
	t.Fatalf("%s is not in waypost queue list:\n%s", id, out)
	return ""
}
