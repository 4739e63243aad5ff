package test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/test/harness"
)

// clientOrg is the scenario of test/scenarios/client (the seed with an
// HTTP API on each hub) and its running hubs.
type clientOrg struct {
	*scenario
	t    *testing.T
	hubs map[string]*harness.Hub
}

func newClientOrg(t *testing.T, scoped bool) *clientOrg {
	t.Helper()
	// The lowest bcrypt cost: every client command logs in, and the race
	// detector makes bcrypt slow.
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"PASSWORD_HASH": string(hash), "SCOPED": "false"}
	if scoped {
		vars["SCOPED"] = "true"
	}
	sc := newScenario(t, "client", vars, "HQ1_RELAY", "HQ1_SUBMIT", "HQ1_API", "BRANCH_RELAY", "BRANCH_SUBMIT", "BRANCH_API")
	return &clientOrg{scenario: sc, t: t, hubs: map[string]*harness.Hub{}}
}

// addrs of a server: relay, submission and API addresses.
func (o *clientOrg) addrs(server string) (relay, submit, api string) {
	p := map[string]string{"hub-hq1": "HQ1", "hub-branch": "BRANCH"}[server]
	return o.Vars[p+"_RELAY"], o.Vars[p+"_SUBMIT"], o.Vars[p+"_API"]
}

func (o *clientOrg) start(servers ...string) {
	o.t.Helper()
	for _, s := range servers {
		relay, submit, api := o.addrs(s)
		o.hubs[s] = harness.Start(o.t, o.File, s, relay, submit, api)
	}
}

func (o *clientOrg) stop(servers ...string) {
	o.t.Helper()
	for _, s := range servers {
		if err := o.hubs[s].Stop(); err != nil {
			o.t.Errorf("stopping %s: %v\n%s", s, err, o.hubs[s].Log())
		}
	}
}

func (o *clientOrg) logs() string {
	var b strings.Builder
	for name, h := range o.hubs {
		b.WriteString("--- " + name + "\n" + h.Log())
	}
	return b.String()
}

// faxes returns the drop folder's messages that contain text.
func (o *clientOrg) faxes(text string) []string {
	files, _ := filepath.Glob(filepath.Join(o.Dir, "fax-out", "*.eml"))
	var out []string
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), text) {
			out = append(out, string(b))
		}
	}
	return out
}

func (o *clientOrg) waitFor(what string, cond func() bool) {
	o.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			o.t.Fatalf("timed out waiting for %s\n%s", what, o.logs())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// user is a person with a client profile.
type user struct {
	o       *clientOrg
	addr    string
	server  string
	profile string
}

// login makes a profile for addr (password "pw") against its home server.
func (o *clientOrg) login(addr, server string) *user {
	o.t.Helper()
	u := &user{o: o, addr: addr, server: server, profile: filepath.Join(o.t.TempDir(), "profile")}
	_, submit, api := o.addrs(server)
	out, errOut, code := u.runIn("pw\n", "login", "--api", "http://"+api, "--smtp", submit, "--user", addr)
	if code != 0 || !strings.Contains(out, "logged in as "+addr) {
		o.t.Fatalf("login %s: exit %d\n%s%s\n%s", addr, code, out, errOut, o.logs())
	}
	return u
}

func (u *user) run(args ...string) (stdout, stderr string, code int) {
	return u.runIn("", args...)
}

// runIn runs the real `waypost client --profile DIR ARGS...`.
func (u *user) runIn(stdin string, args ...string) (stdout, stderr string, code int) {
	u.o.t.Helper()
	cmd := exec.Command(harness.Binary(u.o.t), append([]string{"client", "--profile", u.profile, "--timeout", "5s"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	// The race detector waits a second at exit by default; a client
	// command is short, and the tests run dozens.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), ee.ExitCode()
	}
	if err != nil {
		u.o.t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}

// must runs a command and fails the test unless it exits with want.
func (u *user) must(want int, args ...string) string {
	u.o.t.Helper()
	out, errOut, code := u.run(args...)
	if code != want {
		u.o.t.Fatalf("%s: waypost client %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s\n%s", u.addr, strings.Join(args, " "), code, want, out, errOut, u.o.logs())
	}
	return out
}

type clientStatus struct {
	Online       bool   `json:"online"`
	Error        string `json:"error"`
	AddressTypes struct {
		Site       string   `json:"site"`
		Types      []string `json:"types"`
		Version    string   `json:"version"`
		AgeSeconds int64    `json:"age_seconds"`
	} `json:"address_types"`
	OAB struct {
		Version    string `json:"version"`
		Entries    int    `json:"entries"`
		AgeSeconds int64  `json:"age_seconds"`
	} `json:"oab"`
	Outbox struct{ Messages, Held, Pending int } `json:"outbox"`
	Inbox  struct{ Messages, Local int }         `json:"inbox"`
	Sent   int                                   `json:"sent"`
}

func (u *user) status() clientStatus {
	u.o.t.Helper()
	var st clientStatus
	if err := json.Unmarshal([]byte(u.must(0, "status", "--json")), &st); err != nil {
		u.o.t.Fatal(err)
	}
	return st
}

type inboxEntry struct {
	ID, From, Subject, Date string
	Size                    int64
	Local                   bool
}

func (u *user) inbox() []inboxEntry {
	u.o.t.Helper()
	var l struct{ Messages []inboxEntry }
	if err := json.Unmarshal([]byte(u.must(0, "inbox", "--json")), &l); err != nil {
		u.o.t.Fatal(err)
	}
	return l.Messages
}

type sendResult struct {
	ID                            string
	Online                        bool
	Sent, Refused, Held, Pending  int
	Reports, Downloaded, Warnings []string
	Outbox                        int
}

func (u *user) send(want int, args ...string) sendResult {
	u.o.t.Helper()
	var r sendResult
	if err := json.Unmarshal([]byte(u.must(want, append([]string{"send", "--json"}, args...)...)), &r); err != nil {
		u.o.t.Fatal(err)
	}
	return r
}

func (u *user) sync(want int) sendResult {
	u.o.t.Helper()
	var r sendResult
	if err := json.Unmarshal([]byte(u.must(want, "sync", "--json")), &r); err != nil {
		u.o.t.Fatal(err)
	}
	return r
}

// staleCache rewrites the user's cached address types as an older list
// without FAX, as cached before a FAX connector was in scope.
func (u *user) staleCache() {
	u.o.t.Helper()
	path := filepath.Join(u.profile, "addrtypes.json")
	var c map[string]any
	if err := json.Unmarshal([]byte(readFile(u.o.t, path)), &c); err != nil {
		u.o.t.Fatal(err)
	}
	c["types"], c["version"], c["etag"] = []string{"SMTP"}, "00000000000000aa", `"00000000000000aa"`
	b, _ := json.Marshal(c)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		u.o.t.Fatal(err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The seed (KB 955778) with a cached-mode client: Bob in Branch faxes
// through Branch's scoped connector with no local report; Alice in HQ
// gets a local non-delivery report at once and nothing is submitted.
func TestClientSeed(t *testing.T) {
	o := newClientOrg(t, true)
	o.start("hub-hq1", "hub-branch")
	bob := o.login("bob@contoso.test", "hub-branch")
	alice := o.login("alice@contoso.test", "hub-hq1")

	bst, ast := bob.status(), alice.status()
	if !bst.Online || bst.AddressTypes.Site != "Branch" || !contains(bst.AddressTypes.Types, "FAX") || bst.OAB.Entries != 3 || bst.OAB.Version == "" {
		t.Errorf("Bob's status: %+v", bst)
	}
	if !ast.Online || ast.AddressTypes.Site != "HQ" || contains(ast.AddressTypes.Types, "FAX") || !contains(ast.AddressTypes.Types, "SMS") {
		t.Errorf("Alice's status: %+v", ast)
	}

	// Bob: delivered, no local report.
	r := bob.send(0, "--to", "[FAX:+1 555 0100]", "--subject", "fax from branch", "--body", "fax from branch body")
	if r.Sent != 1 || r.Refused != 0 || len(r.Reports) != 0 || r.Outbox != 0 {
		t.Errorf("Bob's send: %+v", r)
	}
	o.waitFor("Bob's fax in the drop folder", func() bool { return len(o.faxes("fax from branch body")) == 1 })
	if f := o.faxes("fax from branch body")[0]; !strings.Contains(f, "X-Receiver: <IMCEAFAX-+2B1+20555+200100@contoso.test>") {
		t.Errorf("Bob's fax:\n%s", f)
	}
	if in := bob.inbox(); len(in) != 0 {
		t.Errorf("Bob's inbox: %+v", in)
	}

	// Alice: a local report at once, nothing submitted.
	r = alice.send(4, "--to", "[FAX:+1 555 0100]", "--subject", "fax from hq", "--body", "fax from hq body")
	if r.Sent != 0 || r.Refused != 1 || len(r.Reports) != 1 || r.Outbox != 0 || !r.Online {
		t.Errorf("Alice's send: %+v", r)
	}
	in := alice.inbox()
	if len(in) != 1 || !in[0].Local || in[0].Subject != "Undeliverable: fax from hq" || in[0].ID != r.Reports[0] {
		t.Fatalf("Alice's inbox: %+v", in)
	}
	ndr := alice.must(0, "show", in[0].ID)
	for _, want := range []string{"Your message did not reach some or all of the intended recipients.", "Subject: fax from hq", "Sent:    ",
		"The following recipients could not be reached:", "[FAX:+1 555 0100]  (",
		"None of your e-mail accounts could send to this recipient. Your site (HQ) may send to",
		"Final-Recipient: rfc822;IMCEAFAX-+2B1+20555+200100@contoso.test", "Status: 5.4.4", "Content-Type: multipart/report; report-type=delivery-status"} {
		if !strings.Contains(strings.Join(strings.Fields(ndr), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("the local report lacks %q:\n%s", want, ndr)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if tr := o.Track("hub-hq1"); strings.Contains(tr, `"event":"RECEIVE"`) {
		t.Errorf("Alice's client submitted something:\n%s", tr)
	}
	if n := len(o.faxes("fax from hq body")); n != 0 {
		t.Errorf("Alice's fax reached the drop folder")
	}
	if st := alice.status(); st.Outbox.Messages != 0 || st.Sent != 1 || st.Inbox.Messages != 1 || st.Inbox.Local != 1 {
		t.Errorf("Alice's status: %+v", st)
	}

	// Partly refused: the recipients that can be sent to still go.
	// The hub refuses an unknown mailbox at RCPT: that recipient is in
	// the same local report, with the hub's reply.
	r = alice.send(4, "--to", "Front Desk[FAX:+1 555 0101]", "--cc", "bob@contoso.test", "--bcc", "nobody@contoso.test", "--subject", "both", "--body", "both body")
	if r.Sent != 1 || r.Refused != 2 || len(r.Reports) != 1 {
		t.Errorf("Alice's mixed send: %+v", r)
	}
	bobBox := delivery.Folder("bob@contoso.test")
	o.waitFor("Alice's message in Bob's mailbox", func() bool { return len(harness.Maildir(t, o.Data("hub-branch"), bobBox)) == 1 })
	ndr = alice.must(0, "show", r.Reports[0])
	if !strings.Contains(ndr, "Front Desk [FAX:+1 555 0101]") || strings.Contains(ndr, "Final-Recipient: rfc822;bob@contoso.test") ||
		!strings.Contains(ndr, "Final-Recipient: rfc822;nobody@contoso.test") || !strings.Contains(ndr, "Remote-MTA: dns; [127.0.0.1]") ||
		!strings.Contains(ndr, "Diagnostic-Code: smtp; 550 5.1.1") || !strings.Contains(ndr, "Status: 5.1.1") {
		t.Errorf("the second local report:\n%s", ndr)
	}

	// Bob's X500 proxy address resolves through the address book to his
	// mailbox: a directory object goes to the hub, whatever its type.
	r = alice.send(0, "--to", "X500:/o=Contoso/ou=Branch/cn=BOB", "--subject", "to bob by x500")
	o.waitFor("the message in Bob's mailbox", func() bool { return len(harness.Maildir(t, o.Data("hub-branch"), bobBox)) == 2 })

	// The hub's own non-delivery report (the SMS gateway fails) reaches
	// Alice's mailbox; sync downloads it into her inbox, once.
	r = alice.send(0, "--to", "[SMS:+1 555 0111]", "--subject", "sms", "--body", "sms body")
	aliceBox := delivery.Folder("alice@contoso.test")
	o.waitFor("the hub's report in Alice's mailbox", func() bool { return len(harness.Maildir(t, o.Data("hub-hq1"), aliceBox)) == 1 })
	s := alice.sync(0)
	if !s.Online || len(s.Downloaded) != 1 || s.Outbox != 0 {
		t.Errorf("Alice's sync: %+v", s)
	}
	var server []inboxEntry
	for _, m := range alice.inbox() {
		if !m.Local {
			server = append(server, m)
		}
	}
	if len(server) != 1 || server[0].Subject != "Undeliverable: sms" || server[0].ID != s.Downloaded[0] {
		t.Fatalf("the hub's report in the inbox: %+v", server)
	}
	if got := alice.must(0, "show", server[0].ID); !strings.Contains(got, "Final-Recipient: rfc822;IMCEASMS-+2B1+20555+200111@contoso.test") || strings.Contains(got, "X-Waypost-Local-Report") {
		t.Errorf("the hub's report:\n%s", got)
	}
	if s := alice.sync(0); len(s.Downloaded) != 0 {
		t.Errorf("a second sync downloaded again: %+v", s)
	}
	if st := alice.status(); st.Inbox.Messages != 3 || st.Inbox.Local != 2 || st.Outbox.Messages != 0 || st.AddressTypes.AgeSeconds > 5 {
		t.Errorf("Alice's status at the end: %+v", st)
	}
}

// A stale cache never causes a false report: the administrator unscopes
// the FAX connector after Alice logged in; without a sync, her client
// revalidates its list, sees FAX, and the fax is delivered.
func TestClientStaleCache(t *testing.T) {
	o := newClientOrg(t, true)
	o.start("hub-hq1", "hub-branch")
	alice := o.login("alice@contoso.test", "hub-hq1")
	before := alice.status().AddressTypes
	if contains(before.Types, "FAX") {
		t.Fatalf("HQ lists FAX while the connector is scoped: %+v", before)
	}

	// The administrator unscopes the connector and reloads both hubs.
	o.Vars["SCOPED"] = "false"
	o.Write()
	o.reload("hub-hq1", "hub-branch")

	r := alice.send(0, "--to", "[FAX:+1 555 0100]", "--subject", "unscoped fax", "--body", "unscoped fax body")
	if r.Sent != 1 || r.Refused != 0 || len(r.Reports) != 0 {
		t.Errorf("Alice's send: %+v", r)
	}
	o.waitFor("Alice's fax in the drop folder", func() bool { return len(o.faxes("unscoped fax body")) == 1 })
	if in := alice.inbox(); len(in) != 0 {
		t.Errorf("a false local report: %+v", in)
	}
	after := alice.status().AddressTypes
	if !contains(after.Types, "FAX") || after.Version == before.Version {
		t.Errorf("the revalidated list: %+v (before %+v)", after, before)
	}

	// The same with a cache edited back to an older version without FAX.
	alice.staleCache()
	alice.send(0, "--to", "[FAX:+1 555 0100]", "--subject", "old cache", "--body", "old cache body")
	o.waitFor("the second fax", func() bool { return len(o.faxes("old cache body")) == 1 })
	if in := alice.inbox(); len(in) != 0 {
		t.Errorf("a false local report: %+v", in)
	}
}

// reload runs `waypost reload` against each running server.
func (o *clientOrg) reload(servers ...string) {
	o.t.Helper()
	for _, srv := range servers {
		out, err := exec.Command(harness.Binary(o.t), "reload", "--config", o.File, "--server", srv).CombinedOutput()
		if err != nil {
			o.t.Fatalf("waypost reload %s: %v\n%s\n%s", srv, err, out, o.logs())
		}
	}
}

// Long poll: a client waiting with ?wait= on its address types hears of
// a reload that adds FAX for its site within a second, with the new list.
func TestClientLongPollSeesReload(t *testing.T) {
	o := newClientOrg(t, true)
	o.start("hub-hq1", "hub-branch")
	_, _, api := o.addrs("hub-hq1")
	get := func(etag, wait string) (*http.Response, addrTypesBody) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+api+"/api/v1/address-types"+wait, nil)
		req.SetBasicAuth("alice@contoso.test", "pw")
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b addrTypesBody
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
				t.Fatal(err)
			}
		}
		return resp, b
	}
	resp, before := get("", "")
	if resp.StatusCode != http.StatusOK || contains(before.Types, "FAX") {
		t.Fatalf("HQ's list before: %d %+v", resp.StatusCode, before)
	}
	type answer struct {
		resp *http.Response
		body addrTypesBody
		at   time.Time
	}
	got := make(chan answer, 1)
	go func() {
		r, b := get(resp.Header.Get("ETag"), "?wait=30s")
		got <- answer{r, b, time.Now()}
	}()
	time.Sleep(300 * time.Millisecond) // the poll is waiting

	o.Vars["SCOPED"] = "false"
	o.Write()
	o.reload("hub-hq1")
	reloaded := time.Now()
	select {
	case a := <-got:
		if a.resp.StatusCode != http.StatusOK || !contains(a.body.Types, "FAX") || a.body.Version == before.Version {
			t.Fatalf("the long poll answered %d %+v", a.resp.StatusCode, a.body)
		}
		if late := a.at.Sub(reloaded); late > time.Second {
			t.Errorf("the long poll answered %v after the reload, want within a second", late)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the long poll did not answer after the reload\n%s", o.logs())
	}
}

type addrTypesBody struct {
	Site    string   `json:"site"`
	Types   []string `json:"types"`
	Version string   `json:"version"`
}

// Offline: with the hub stopped, send keeps the message in the outbox
// (the fax recipient held, unverified); when the hub is back, sync
// decides and submits it. A held recipient that turns out refused gets
// its local report at that sync.
func TestClientOffline(t *testing.T) {
	o := newClientOrg(t, true)
	o.start("hub-hq1", "hub-branch")
	bob := o.login("bob@contoso.test", "hub-branch")
	alice := o.login("alice@contoso.test", "hub-hq1")
	bob.staleCache() // cached before the fax connector was in scope
	o.stop("hub-hq1", "hub-branch")

	r := bob.send(3, "--to", "[FAX:+1 555 0100]", "--to", "alice@contoso.test", "--subject", "while offline", "--body", "while offline body")
	if r.Online || r.Held != 1 || r.Pending != 1 || r.Sent != 0 || r.Refused != 0 || r.Outbox != 1 {
		t.Errorf("Bob's offline send: %+v", r)
	}
	st := bob.status()
	if st.Online || st.Error == "" || st.Outbox.Messages != 1 || st.Outbox.Held != 1 || st.Outbox.Pending != 1 {
		t.Errorf("Bob's offline status: %+v", st)
	}
	if s := bob.sync(3); s.Online || s.Outbox != 1 {
		t.Errorf("Bob's offline sync: %+v", s)
	}
	r = alice.send(3, "--to", "[FAX:+1 555 0100]", "--subject", "alice offline", "--body", "alice offline body")
	if r.Held != 1 || r.Refused != 0 || len(r.Reports) != 0 {
		t.Errorf("Alice's offline send: %+v", r)
	}
	if in := alice.inbox(); len(in) != 0 {
		t.Errorf("an offline local report: %+v", in)
	}

	o.start("hub-hq1", "hub-branch")
	s := bob.sync(0)
	if !s.Online || s.Sent != 2 || s.Held != 0 || s.Outbox != 0 {
		t.Errorf("Bob's sync: %+v", s)
	}
	o.waitFor("Bob's fax in the drop folder", func() bool { return len(o.faxes("while offline body")) == 1 })
	aliceBox := delivery.Folder("alice@contoso.test")
	o.waitFor("Bob's message in Alice's mailbox", func() bool { return len(harness.Maildir(t, o.Data("hub-hq1"), aliceBox)) == 1 })
	if st := bob.status(); !st.Online || st.Outbox.Messages != 0 || st.Sent != 1 || !contains(st.AddressTypes.Types, "FAX") {
		t.Errorf("Bob's status after sync: %+v", st)
	}

	// Alice's held fax is decided at her sync: HQ may not send faxes.
	s = alice.sync(4)
	if s.Refused != 1 || len(s.Reports) != 1 || s.Outbox != 0 || len(s.Downloaded) != 1 {
		t.Errorf("Alice's sync: %+v", s)
	}
	var local int
	for _, m := range alice.inbox() {
		if m.Local {
			local++
		}
	}
	if local != 1 {
		t.Errorf("Alice has %d local reports, want 1", local)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(o.faxes("while offline body")); n != 1 {
		t.Errorf("Bob's fax was delivered %d times", n)
	}
	if len(o.faxes("alice offline body")) != 0 {
		t.Errorf("Alice's fax was submitted")
	}
}

// What a script sees: help lists the exit codes; usage errors exit 2;
// a missing profile or a wrong password exits 1 and writes nothing.
func TestClientCommandLine(t *testing.T) {
	o := newClientOrg(t, true)
	u := &user{o: o, addr: "alice@contoso.test", profile: filepath.Join(t.TempDir(), "p")}
	out, _, code := u.run("--help")
	if code != 0 || !strings.Contains(out, "Exit codes:") || !strings.Contains(out, "4  refused") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
	if _, errOut, code := u.run("frobnicate"); code != 2 || !strings.Contains(errOut, "unknown client command") {
		t.Errorf("unknown command: exit %d: %s", code, errOut)
	}
	if _, errOut, code := u.run("status"); code != 1 || !strings.Contains(errOut, "login") {
		t.Errorf("status without a profile: exit %d: %s", code, errOut)
	}
	o.start("hub-hq1")
	_, submit, api := o.addrs("hub-hq1")
	_, errOut, code := u.runIn("wrong\n", "login", "--api", "http://"+api, "--smtp", submit, "--user", "alice@contoso.test")
	if code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("wrong password: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(u.profile, "credentials")); err == nil {
		t.Errorf("a refused login stored the password")
	}
	// Another hub's API: login says which is the mailbox's home.
	o.start("hub-branch")
	_, _, branchAPI := o.addrs("hub-branch")
	_, errOut, code = u.runIn("pw\n", "login", "--api", "http://"+branchAPI, "--smtp", submit, "--user", "alice@contoso.test")
	if code != 1 || !strings.Contains(errOut, "home server") || !strings.Contains(errOut, "http://"+api) {
		t.Errorf("login at another hub: exit %d: %s", code, errOut)
	}
	alice := o.login("alice@contoso.test", "hub-hq1")
	if _, errOut, code := alice.run("send", "--to", "bad@@contoso.test", "--subject", "x"); code != 1 || !strings.Contains(errOut, "bad@@contoso.test") {
		t.Errorf("a bad address: exit %d: %s", code, errOut)
	}
	if _, errOut, code := alice.run("show", "../credentials"); code != 1 || !strings.Contains(errOut, "no message") {
		t.Errorf("show of a path: exit %d: %s", code, errOut)
	}
	fi, err := os.Stat(filepath.Join(alice.profile, "credentials"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials: %v %v", fi, err)
	}
	if fi, err := os.Stat(alice.profile); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("profile folder: %v %v", fi, err)
	}
}
