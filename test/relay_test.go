package test

import (
	"crypto/tls"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/hub"
	"github.com/waypost/waypost/test/harness"
)

// seed is the scenario of test/scenarios/seed, written into a temporary
// folder with free ports.
type seed struct {
	t        *testing.T
	dir      string
	file     string
	template string
	vars     map[string]string
	hubs     map[string]*harness.Hub
}

const faxIMCEA = "IMCEAFAX-+2B1+20555+200100@contoso.test"

func newSeed(t *testing.T) *seed {
	t.Helper()
	s := &seed{t: t, dir: t.TempDir(), hubs: map[string]*harness.Hub{}}
	s.template = readFile(t, filepath.Join("scenarios", "seed", "org.toml"))
	hash, err := hub.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	s.vars = map[string]string{"PASSWORD_HASH": hash, "SCOPED": "true"}
	for _, k := range []string{"HQ1_RELAY", "HQ1_SUBMIT", "HQ2_RELAY", "HQ2_SUBMIT", "BRANCH_RELAY", "BRANCH_SUBMIT", "HQ1_API", "HQ2_API", "BRANCH_API"} {
		s.vars[k] = harness.Port(t)
	}
	s.file = filepath.Join(s.dir, "org.toml")
	harness.Write(t, filepath.Join(s.dir, "hub.secret"), "c2VlZCBzY2VuYXJpbyBodWIgc2VjcmV0IGZvciB0ZXN0cw==\n")
	s.write()
	return s
}

func (s *seed) write() {
	text := s.template
	for k, v := range s.vars {
		text = strings.ReplaceAll(text, "@"+k+"@", v)
	}
	harness.Write(s.t, s.file, text)
}

// addrs of a server: relay, submission.
func (s *seed) addrs(server string) (relay, submit string) {
	p := map[string]string{"hub-hq1": "HQ1", "hub-hq2": "HQ2", "hub-branch": "BRANCH"}[server]
	return s.vars[p+"_RELAY"], s.vars[p+"_SUBMIT"]
}

func (s *seed) start(server string) {
	relay, submit := s.addrs(server)
	s.hubs[server] = harness.Start(s.t, s.file, server, relay, submit)
}

func (s *seed) stop(server string) {
	if err := s.hubs[server].Stop(); err != nil {
		s.t.Errorf("stopping %s: %v\n%s", server, err, s.hubs[server].Log())
	}
}

func (s *seed) data(server string) string { return filepath.Join(s.dir, "data", server) }

// submit sends a message as user (password "pw") on server's submission port.
func (s *seed) submit(server, user, to, subject string) {
	s.t.Helper()
	_, addr := s.addrs(server)
	host, _, _ := net.SplitHostPort(addr)
	msg := "From: " + user + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n\r\n" + subject + " body\r\n"
	if err := smtp.SendMail(addr, smtp.PlainAuth("", user, "pw", host), user, []string{to}, []byte(msg)); err != nil {
		s.t.Fatalf("submitting %q on %s: %v", subject, server, err)
	}
}

func (s *seed) tracking(server string) string {
	b, _ := os.ReadFile(filepath.Join(s.data(server), "tracking.log"))
	return string(b)
}

func (s *seed) logs() string {
	var b strings.Builder
	for name, h := range s.hubs {
		b.WriteString("--- " + name + "\n" + h.Log())
	}
	return b.String()
}

func (s *seed) waitFor(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s\n%s", what, s.logs())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// dropped reports whether the fax gateway's drop folder holds a message
// for rcpt containing text.
func (s *seed) dropped(rcpt, text string) bool {
	files, _ := filepath.Glob(filepath.Join(s.dir, "fax-out", "*.eml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), "X-Receiver: <"+rcpt+">\r\n") && strings.Contains(string(b), text) {
			return true
		}
	}
	return false
}

func TestSeedScenario(t *testing.T) {
	s := newSeed(t)
	for _, srv := range []string{"hub-hq1", "hub-hq2", "hub-branch"} {
		s.start(srv)
	}
	alice, bob := delivery.Folder("alice@contoso.test"), delivery.Folder("bob@contoso.test")

	// An outsider on a relay port is refused at MAIL.
	relay, _ := s.addrs("hub-hq1")
	c, err := smtp.Dial(relay)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("mallory@fabrikam.test"); err == nil || !strings.Contains(err.Error(), "5.7.0 Must issue a STARTTLS command first") {
		t.Errorf("outsider MAIL on the relay port: %v, want 530 5.7.0 STARTTLS first", err)
	}
	c.Close()
	// Inside TLS too, without the hub proof.
	if c, err = smtp.Dial(relay); err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Fatalf("STARTTLS on the relay port: %v", err)
	}
	if err := c.Mail("mallory@fabrikam.test"); err == nil || !strings.Contains(err.Error(), "5.7.0 Hub authentication required") {
		t.Errorf("outsider MAIL on the relay port inside TLS: %v, want 530 5.7.0", err)
	}
	c.Close()

	// 1. Bob in Branch faxes through Branch's scoped connector.
	s.submit("hub-branch", "bob@contoso.test", faxIMCEA, "fax from branch")
	s.waitFor("Bob's fax in the drop folder", func() bool { return s.dropped(faxIMCEA, "fax from branch body") })

	// 2. Alice in HQ may not use it: NDR 5.4.4 naming FAX.
	s.submit("hub-hq1", "alice@contoso.test", faxIMCEA, "fax from hq")
	s.waitFor("Alice's NDR", func() bool { return len(harness.Maildir(t, s.data("hub-hq1"), alice)) == 1 })
	ndr := harness.Maildir(t, s.data("hub-hq1"), alice)[0]
	if !strings.Contains(ndr, "5.4.4") || !strings.Contains(ndr, "FAX") {
		t.Errorf("NDR:\n%s", ndr)
	}

	// 3. Cross-site mailbox delivery: hub-hq1 relays to hub-branch.
	s.submit("hub-hq1", "alice@contoso.test", "bob@contoso.test", "hello bob")
	s.waitFor("Alice's message in Bob's Maildir", func() bool { return len(harness.Maildir(t, s.data("hub-branch"), bob)) == 1 })
	got := harness.Maildir(t, s.data("hub-branch"), bob)[0]
	if strings.Contains(got, "X-Waypost-Arrival") || strings.Count(got, "Received: ") != 2 || !strings.Contains(got, "hello bob body") {
		t.Errorf("Bob's message:\n%s", got)
	}
	if tr := s.tracking("hub-hq1"); !strings.Contains(tr, `"event":"SEND"`) || !strings.Contains(tr, `"next_hop":"hub:hub-branch"`) {
		t.Errorf("hub-hq1 tracking log:\n%s", tr)
	}
	if tr := s.tracking("hub-branch"); !strings.Contains(tr, `"detail":"via relay"`) {
		t.Errorf("hub-branch tracking log:\n%s", tr)
	}

	// 4. The next hub is down: the message waits on hub-hq1 and flows on
	// once hub-branch is back.
	s.stop("hub-branch")
	s.submit("hub-hq1", "alice@contoso.test", "bob@contoso.test", "while you were out")
	s.waitFor("a DEFER for hub:hub-branch", func() bool {
		for _, line := range strings.Split(s.tracking("hub-hq1"), "\n") {
			if strings.Contains(line, `"event":"DEFER"`) && strings.Contains(line, `"next_hop":"hub:hub-branch"`) {
				return true
			}
		}
		return false
	})
	s.start("hub-branch")
	s.waitFor("the waiting message in Bob's Maildir", func() bool { return len(harness.Maildir(t, s.data("hub-branch"), bob)) == 2 })
	time.Sleep(300 * time.Millisecond)
	if n := len(harness.Maildir(t, s.data("hub-branch"), bob)); n != 2 {
		t.Errorf("Bob has %d messages, want 2 (delivered once)", n)
	}

	// 5. The connector unscoped: Alice's fax goes hub-hq1 -> hub-branch -> drop folder.
	for _, srv := range []string{"hub-hq1", "hub-hq2", "hub-branch"} {
		s.stop(srv)
	}
	s.vars["SCOPED"] = "false"
	s.write()
	for _, srv := range []string{"hub-hq1", "hub-hq2", "hub-branch"} {
		s.start(srv)
	}
	s.submit("hub-hq1", "alice@contoso.test", faxIMCEA, "unscoped fax")
	s.waitFor("Alice's fax in the drop folder", func() bool { return s.dropped(faxIMCEA, "unscoped fax body") })
	if tr := s.tracking("hub-hq1"); !strings.Contains(tr, `"next_hop":"hub:hub-branch"`) {
		t.Errorf("hub-hq1 tracking log:\n%s", tr)
	}
	if n := len(harness.Maildir(t, s.data("hub-hq1"), alice)); n != 1 {
		t.Errorf("Alice has %d messages, want only the first NDR", n)
	}
}

// Three sites in a chain A - Mid - Z (and a costlier direct link A - Z):
// with Mid a hub site, mail from A to Z is relayed through hub-mid; without
// the flag it goes straight to hub-z.
func TestHubSiteRelays(t *testing.T) {
	sc := newScenario(t, "hub-site", map[string]string{"HUB_SITE": "true"}, "A_RELAY", "A_SMTP", "MID_RELAY", "Z_RELAY")
	vars, file := sc.Vars, sc.File
	a := harness.Start(t, file, "hub-a", vars["A_RELAY"], vars["A_SMTP"])
	harness.Start(t, file, "hub-mid", vars["MID_RELAY"])
	harness.Start(t, file, "hub-z", vars["Z_RELAY"])
	data, track := sc.Data, sc.Track
	zed := delivery.Folder("zed@contoso.test")
	send := func(subject string) {
		t.Helper()
		msg := "Subject: " + subject + "\r\n\r\nbody\r\n"
		if err := smtp.SendMail(vars["A_SMTP"], nil, "carol@fabrikam.test", []string{"zed@contoso.test"}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}

	send("through mid")
	harness.WaitFor(t, 15*time.Second, "delivery through hub-mid", func() bool { return len(harness.Maildir(t, data("hub-z"), zed)) == 1 })
	// A hub logs its relay once the next hub answered, which may be after
	// that hub delivered the message onward: wait for both lines.
	relayed := func(hub, next string) bool { return strings.Contains(track(hub), `"next_hop":"hub:`+next+`"`) }
	harness.WaitFor(t, 5*time.Second, "tracking of both relays", func() bool { return relayed("hub-a", "hub-mid") && relayed("hub-mid", "hub-z") })
	if got := harness.Maildir(t, data("hub-z"), zed)[0]; strings.Count(got, "Received: ") != 3 {
		t.Errorf("want three Received lines (hub-a, hub-mid, hub-z):\n%s", got)
	}

	// Without the hub-site flag hub-a sends straight to hub-z.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	vars["HUB_SITE"] = "false"
	sc.Write()
	harness.Start(t, file, "hub-a", vars["A_RELAY"], vars["A_SMTP"])
	// hub-mid counts what it received; it also logs its reload of the
	// rewritten file, whenever it sees the change.
	received := func() int { return strings.Count(track("hub-mid"), `"event":"RECEIVE"`) }
	before := received()
	send("direct")
	harness.WaitFor(t, 15*time.Second, "direct delivery", func() bool { return len(harness.Maildir(t, data("hub-z"), zed)) == 2 })
	harness.WaitFor(t, 5*time.Second, "tracking of the direct relay", func() bool { return relayed("hub-a", "hub-z") })
	if received() != before {
		t.Errorf("tracking:\nhub-a:\n%s\nhub-mid:\n%s", track("hub-a"), track("hub-mid"))
	}
}
