package hub

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/smtpd"
)

// consoleOrg is the seed's organization: a FAX connector scoped to
// Branch; Carol is an administrator, Dave is not.
func consoleOrg(t *testing.T, api string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hub.secret"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	carol, err := HashPassword("carol's password")
	if err != nil {
		t.Fatal(err)
	}
	dave, _ := HashPassword("dave's password")
	text := `
[organization]
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
data_dir = "data/hq"
api = "` + api + `"
[[server]]
name = "hub-branch"
site = "Branch"
data_dir = "data/branch"
api = "127.0.0.1:1"
[[accepted_domain]]
domain = "contoso.test"
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;10"]
source_servers = ["hub-hq"]
delivery = { kind = "drop", directory = "out" }
[[send_connector]]
name = "Branch Fax"
address_spaces = ["FAX:*;1"]
source_servers = ["hub-branch"]
scoped = true
delivery = { kind = "drop", directory = "fax" }
[[recipient]]
name = "Carol"
kind = "mailbox"
server = "hub-hq"
addresses = ["SMTP:carol@contoso.test"]
password_hash = "` + carol + `"
[[recipient]]
name = "Dave"
kind = "mailbox"
server = "hub-hq"
addresses = ["SMTP:dave@contoso.test"]
password_hash = "` + dave + `"
`
	os.MkdirAll(filepath.Join(dir, "out"), 0o700)
	os.MkdirAll(filepath.Join(dir, "fax"), 0o700)
	file := filepath.Join(dir, "org.toml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func (b *browser) post(path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field in:\n%s", page)
	}
	return m[1]
}

// signIn signs in and returns the session's CSRF token.
func (b *browser) signIn(user, pass string) (int, string) {
	b.t.Helper()
	_, page, _ := b.get("/console/login")
	code, body, _ := b.post("/console/login", url.Values{"csrf": {csrfOf(b.t, page)}, "user": {user}, "password": {pass}, "next": {"/console/"}})
	return code, body
}

func TestConsole(t *testing.T) {
	file := consoleOrg(t, "127.0.0.1:0")
	org, _, err := LoadOrg(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(org, "hub-hq", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	srv := httptest.NewServer(h.API())
	defer srv.Close()
	b := newBrowser(t, srv.URL)

	// Signed out: every page leads to the sign-in form.
	if code, _, hdr := b.get("/console/queues"); code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/console/login?next=") {
		t.Fatalf("signed out: %d to %q", code, hdr.Get("Location"))
	}
	// A sign-in without the form's token is refused.
	if code, _, _ := b.post("/console/login", url.Values{"user": {"carol@contoso.test"}, "password": {"carol's password"}}); code != http.StatusForbidden {
		t.Errorf("sign-in without CSRF: %d, want 403", code)
	}
	if code, body := b.signIn("carol@contoso.test", "wrong"); code != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password") {
		t.Errorf("wrong password: %d", code)
	}
	resp, err := b.c.PostForm(srv.URL+"/console/login", func() url.Values {
		_, page, _ := b.get("/console/login")
		return url.Values{"csrf": {csrfOf(t, page)}, "user": {"carol@contoso.test"}, "password": {"carol's password"}, "next": {"/console/queues"}}
	}())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/queues" {
		t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "waypost_console" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP", cookie)
	}

	pages := []struct{ path, want string }{
		{"/console/", "hub-branch"},
		{"/console/", "this hub"},
		{"/console/topology", "Branch Fax: FAX:*;1 [scoped]"},
		{"/console/topology", "HQ-Branch · cost 10"},
		{"/console/address-types?site=Branch", `<strong id="offered">FAX, SMTP</strong>`},
		{"/console/address-types?site=Branch", `<strong id="prefix">SMTP</strong>`},
		{"/console/address-types?site=Branch", `<tr data-type="FAX" class="differs">`},
		{"/console/address-types?site=HQ", `<strong id="offered">SMTP</strong>`},
		{"/console/address-types?site=HQ", "not usable here: scoped to site Branch"},
		{"/console/route?recipient=" + url.QueryEscape("[FAX:+1 555 0100]") + "&site=Branch", "Branch Fax at hub-branch"},
		{"/console/route?recipient=" + url.QueryEscape("[FAX:+1 555 0100]") + "&site=HQ", "scoped to site Branch; the routing server is in site HQ"},
		{"/console/route?recipient=bob@fabrikam.test&site=Branch", `<dd id="hubs">straight to hub-hq, which has no relay listener`},
		{"/console/config", "administrators = [&#34;Carol&#34;]"},
		{"/console/config", "•••• (masked)"},
		{"/console/queues", "The queue is empty."},
	}
	for _, p := range pages {
		code, body, _ := b.get(p.path)
		if code != http.StatusOK || !strings.Contains(body, p.want) {
			t.Errorf("GET %s: %d, want 200 with %q; got:\n%s", p.path, code, p.want, body)
		}
		if strings.Contains(body, "$2a$") {
			t.Errorf("GET %s shows a password hash", p.path)
		}
	}
	if code, _, _ := b.get("/console/address-types?site=Nowhere"); code != http.StatusNotFound {
		t.Errorf("unknown site: %d, want 404", code)
	}

	// A queued message, held and released from the console.
	id, err := queueAdapter{h}.Add(smtpd.Envelope{From: "alice@fabrikam.test", Receiver: "Default",
		Recipients: []smtpd.Recipient{{Written: "bob@fabrikam.test", Decision: routing.Decision{Type: "SMTP", Address: "bob@fabrikam.test"}}}}, strings.NewReader("Subject: hi\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, page, _ := b.get("/console/queues/message?id=" + id)
	token := csrfOf(t, page)
	if code, _, _ := b.post("/console/queues/action", url.Values{"id": {id}, "action": {"hold"}}); code != http.StatusForbidden {
		t.Errorf("hold without CSRF: %d, want 403", code)
	}
	if code, _, _ := b.post("/console/queues/action", url.Values{"id": {id}, "action": {"hold"}, "csrf": {"forged"}}); code != http.StatusForbidden {
		t.Errorf("hold with a wrong CSRF token: %d, want 403", code)
	}
	if st := rcptState(t, h, id); st != "ready" {
		t.Fatalf("after refused holds the recipient is %s", st)
	}
	if code, _, hdr := b.post("/console/queues/action", url.Values{"id": {id}, "action": {"hold"}, "csrf": {token}}); code != http.StatusSeeOther {
		t.Fatalf("hold: %d %v", code, hdr)
	}
	if st := rcptState(t, h, id); st != "held" {
		t.Fatalf("after hold the recipient is %s", st)
	}
	if _, body, _ := b.get("/console/queues/message?id=" + id); !strings.Contains(body, "hold: 1 recipient(s) of 1 message(s) changed") || !strings.Contains(body, `data-state="held"`) {
		t.Errorf("message page after hold:\n%s", body)
	}
	if _, body, _ := b.get("/console/queues?state=held"); !strings.Contains(body, `data-id="`+id+`"`) {
		t.Errorf("held list has not %s", id)
	}
	b.post("/console/queues/action", url.Values{"id": {id}, "action": {"release"}, "csrf": {token}})
	if st := rcptState(t, h, id); st != "ready" {
		t.Fatalf("after release the recipient is %s", st)
	}
	track, _ := os.ReadFile(filepath.Join(h.server.DataDir, "tracking.log"))
	if !strings.Contains(string(track), `"event":"HOLD"`) || !strings.Contains(string(track), `"actor":"Carol"`) {
		t.Errorf("tracking log without HOLD by Carol:\n%s", track)
	}
	if _, body, _ := b.get("/console/tracking?q=" + id); !strings.Contains(body, "RELEASE") || !strings.Contains(body, "Carol") {
		t.Errorf("tracking page for %s:\n%s", id, body)
	}
	// Remove asks first; the confirmation removes it.
	if _, body, _ := b.post("/console/queues/action", url.Values{"id": {id}, "action": {"remove"}, "csrf": {token}}); !strings.Contains(body, "Remove message "+id+"?") {
		t.Errorf("remove did not ask:\n%s", body)
	}
	if rcptState(t, h, id) == "" {
		t.Fatal("removed without confirmation")
	}
	b.post("/console/queues/action", url.Values{"id": {id}, "action": {"remove"}, "confirm": {"yes"}, "csrf": {token}})
	if _, err := h.sched.Describe(id); err == nil {
		t.Error("still queued after a confirmed remove")
	}

	// Remove with a report to the sender, after the confirmation.
	id2, err := queueAdapter{h}.Add(smtpd.Envelope{From: "alice@fabrikam.test", Receiver: "Default",
		Recipients: []smtpd.Recipient{{Written: "erin@fabrikam.test", Decision: routing.Decision{Type: "SMTP", Address: "erin@fabrikam.test"}}}}, strings.NewReader("Subject: two\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, body, _ := b.post("/console/queues/action", url.Values{"id": {id2}, "action": {"remove"}, "ndr": {"yes"}, "csrf": {token}}); !strings.Contains(body, "gets a non-delivery report") {
		t.Errorf("the confirmation of a remove with a report does not say so:\n%s", body)
	}
	b.post("/console/queues/action", url.Values{"id": {id2}, "action": {"remove"}, "ndr": {"yes"}, "confirm": {"yes"}, "csrf": {token}})
	if _, body, _ := b.get("/console/tracking?q=" + id2); !strings.Contains(body, "with a non-delivery report to the sender") {
		t.Errorf("tracking after remove with a report:\n%s", body)
	}
	if ql, err := h.sched.List(control.Select{Recipient: "alice@fabrikam.test", Messages: true}); err != nil || len(ql.Messages) != 1 || ql.Messages[0].From != "" {
		t.Errorf("no report queued for the sender: %v %+v", err, ql)
	}

	// Sign-out ends the session.
	b.post("/console/logout", url.Values{"csrf": {token}})
	if code, _, _ := b.get("/console/"); code != http.StatusSeeOther {
		t.Errorf("after sign-out: %d, want the sign-in redirect", code)
	}

	// A mailbox that is not an administrator is refused everywhere.
	d := newBrowser(t, srv.URL)
	if code, _ := d.signIn("dave@contoso.test", "dave's password"); code != http.StatusSeeOther {
		t.Fatalf("Dave's sign-in: %d", code)
	}
	for _, p := range []string{"/console/", "/console/queues", "/console/config", "/console/overview.json"} {
		if code, body, _ := d.get(p); code != http.StatusForbidden || !strings.Contains(body, "is not one of the organization") {
			t.Errorf("Dave GET %s: %d", p, code)
		}
	}
	if code, _, _ := d.post("/console/queues/action", url.Values{"queue": {"submission"}, "action": {"hold"}, "csrf": {"x"}}); code != http.StatusForbidden {
		t.Errorf("Dave's POST: %d", code)
	}

	// A reload that names Dave lets him in at once; the config page shows
	// the change.
	text, _ := os.ReadFile(file)
	if err := os.WriteFile(file, []byte(strings.Replace(string(text), `administrators = ["Carol"]`, `administrators = ["Carol", "Dave"]`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Reload("tester"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := d.get("/console/"); code != http.StatusOK {
		t.Errorf("Dave after the reload: %d, want 200", code)
	}
	if _, body, _ := d.get("/console/config"); !strings.Contains(body, "console administrator &#34;Dave&#34; added") || !strings.Contains(body, "by tester") {
		t.Errorf("config page after the reload:\n%s", body)
	}

	// Failed sign-ins count toward the API's lockout, and are slowed down
	// as the API's are (one throttle: the first 3 at once, then 250 ms
	// more each): the last of these waited at least 6 x 250 ms.
	e := newBrowser(t, srv.URL)
	var last time.Duration
	for range 10 {
		start := time.Now()
		e.signIn("carol@contoso.test", "guess")
		last = time.Since(start)
	}
	if last < 1500*time.Millisecond {
		t.Errorf("the 10th failed sign-in from one address was answered after %v, want the API's throttle (2 s)", last)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/address-types", nil)
	req.SetBasicAuth("carol@contoso.test", "carol's password")
	ar, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ar.Body.Close()
	if ar.StatusCode != http.StatusTooManyRequests {
		t.Errorf("API after 10 failed console sign-ins: %d, want 429", ar.StatusCode)
	}
}

// rcptState is the state of the first recipient of id, "" when it is not queued.
func rcptState(t *testing.T, h *Hub, id string) string {
	t.Helper()
	m, err := h.sched.Describe(id)
	if err != nil {
		return ""
	}
	return m.Recipients[0].State
}

// TestConsoleQueuePagesAt10k: with 10,000 messages queued, the queue
// pages answer in under 100 ms (the best of five, so that another
// process's burst on the machine does not decide; longer under the race
// detector).
func TestConsoleQueuePagesAt10k(t *testing.T) {
	file := consoleOrg(t, "127.0.0.1:0")
	org, _, err := LoadOrg(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(org, "hub-hq", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	now := time.Now()
	for i := range 10_000 {
		h.sched.Load(&queue.Message{ID: fmt.Sprintf("%016x-%012x", i, i), Size: 2048, Envelope: queue.Envelope{
			From: "alice@contoso.test", Arrival: now.Add(-time.Duration(i) * time.Millisecond),
			Recipients: []queue.Recipient{{Written: "bob@fabrikam.test", Type: "SMTP", Address: "bob@fabrikam.test", State: queue.Pending,
				NextHop: "connector:Internet@hub-hq", Attempts: 3, NextAttempt: now.Add(10 * time.Minute), Held: i%10 == 0}}}})
	}
	srv := httptest.NewServer(h.API())
	defer srv.Close()
	b := newBrowser(t, srv.URL)
	if code, _ := b.signIn("carol@contoso.test", "carol's password"); code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", code)
	}
	for _, p := range []struct{ path, want string }{
		{"/console/queues", `<td>10000</td>`},
		{"/console/queues?queue=connector:Internet@hub-hq&page=100", "Page 100 of 200"},
		{"/console/queues?state=held&page=3", "Messages, held: 1000"},
		{"/console/", "hub-hq"},
	} {
		best := time.Hour
		for range 5 {
			start := time.Now()
			code, body, _ := b.get(p.path)
			best = min(best, time.Since(start))
			if code != http.StatusOK || !strings.Contains(body, p.want) {
				t.Fatalf("GET %s: %d without %q:\n%s", p.path, code, p.want, body)
			}
		}
		t.Logf("GET %s: %v", p.path, best)
		if limit := 100 * time.Millisecond * raceSlowdown; best > limit {
			t.Errorf("GET %s took %v with 10,000 queued, want under %v", p.path, best, limit)
		}
	}
}
