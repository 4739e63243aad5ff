package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/waypost/waypost/internal/api"
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/hub"
	"github.com/waypost/waypost/internal/routing"
)

// contoso is two sites, a hub in each, a fax connector scoped to Branch
// (@SCOPED@), an Internet connector on hub-hq, and recipients of every
// kind. Alice (hub-hq) and Bob (hub-branch) have the password "pw".
const contoso = `
[organization]
name = "Contoso"
default_domain = "contoso.test"
hub_secret_file = "hub.secret"

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
api = "127.0.0.1:18025"
[[server]]
name = "hub-branch"
site = "Branch"
data_dir = "data/hub-branch"
api = "127.0.0.1:18026"

[[accepted_domain]]
domain = "contoso.test"

[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;10"]
source_servers = ["hub-hq"]
delivery = { kind = "smtp", smart_hosts = ["127.0.0.1:2600"] }

[[send_connector]]
name = "Branch Fax"
address_spaces = ["FAX:*;1"]
source_servers = ["hub-branch"]
scoped = @SCOPED@
delivery = { kind = "drop", directory = "fax-out" }

[[recipient]]
kind = "mailbox"
name = "Alice Example"
server = "hub-hq"
addresses = ["SMTP:alice@contoso.test", "smtp:a@contoso.test", "X500:/o=Contoso/ou=HQ/cn=alice"]
password_hash = "@HASH@"

[[recipient]]
kind = "mailbox"
name = "Bob Branch"
server = "hub-branch"
addresses = ["SMTP:bob@contoso.test"]
password_hash = "@HASH@"

[[recipient]]
kind = "mailbox"
name = "No Password"
server = "hub-hq"
addresses = ["SMTP:nopw@contoso.test"]

[[recipient]]
kind = "contact"
name = "Legal Fax"
addresses = ["SMTP:legalfax@contoso.test"]
target = "FAX:+1 555 0199"

[[recipient]]
kind = "group"
name = "Sales"
addresses = ["SMTP:sales@contoso.test"]
members = ["alice@contoso.test", "bob@contoso.test", "legalfax@contoso.test"]
`

var testHash = func() string {
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
}()

// orgText fills the placeholders of contoso.
func orgText(scoped bool, extra ...string) string {
	s := strings.ReplaceAll(contoso, "@HASH@", testHash)
	s = strings.ReplaceAll(s, "@SCOPED@", map[bool]string{true: "true", false: "false"}[scoped])
	return s + strings.Join(extra, "\n")
}

// env is an API server of hub-hq (or another hub) on an httptest server,
// with an engine pointer the test can swap as a reload would.
type env struct {
	t      *testing.T
	engine atomic.Pointer[routing.Engine]
	srv    *api.Server
	ts     *httptest.Server
	boxes  *delivery.Maildir
	server string
}

func newEnv(t *testing.T, text, server string, cfg ...func(*api.Config)) *env {
	t.Helper()
	e := &env{t: t, server: server, boxes: &delivery.Maildir{Root: t.TempDir(), Hostname: server + ".contoso.test"}}
	e.engine.Store(buildEngine(t, text))
	e.start(cfg...)
	return e
}

// start serves a new api.Server on a new httptest server.
func (e *env) start(cfg ...func(*api.Config)) {
	c := api.Config{Server: e.server, Engine: e.engine.Load, Auth: hub.Passwords{Engine: &e.engine}, Mailboxes: e.boxes,
		Poll: 20 * time.Millisecond}
	for _, f := range cfg {
		f(&c)
	}
	srv := api.New(c)
	ts := httptest.NewServer(srv)
	e.srv, e.ts = srv, ts
	e.t.Cleanup(func() { srv.Close(); ts.Close() })
}

// restart replaces the server with a new one on the same Maildirs, as a
// restart of the hub does.
func (e *env) restart() {
	e.srv.Close()
	e.ts.Close()
	e.start()
}

func buildEngine(t *testing.T, text string) *routing.Engine {
	t.Helper()
	org, err := config.Parse([]byte(text), "test.toml", t.TempDir())
	if err != nil {
		t.Fatalf("organization: %v", err)
	}
	dir, err := directory.NewMemory(org.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	return routing.New(org, dir)
}

// swap replaces the engine, as a reload does.
func (e *env) swap(text string) { e.engine.Store(buildEngine(e.t, text)) }

// req is one request.
type req struct {
	method, path string
	user, pass   string // "" user: no credentials
	body         string
	header       map[string]string
}

func (e *env) do(r req) *http.Response {
	e.t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequestWithContext(context.Background(), r.method, e.ts.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.user != "" {
		hr.SetBasicAuth(r.user, r.pass)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := e.ts.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// alice, bob: requests as those users.
func alice(method, path string) req {
	return req{method: method, path: path, user: "alice@contoso.test", pass: "pw"}
}
func bob(method, path string) req {
	return req{method: method, path: path, user: "bob@contoso.test", pass: "pw"}
}

// decode reads a JSON answer, checking its status.
func decode(t *testing.T, resp *http.Response, status int, v any) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, b)
	}
	if v == nil {
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("answer %s: %v", b, err)
	}
}

// apiError checks that resp is a JSON error with status and code.
func apiError(t *testing.T, resp *http.Response, status int, code string) api.Error {
	t.Helper()
	var e api.Error
	decode(t, resp, status, &e)
	if e.Code != code || e.Error == "" {
		t.Errorf("%s %s: error %+v, want code %q and a message", resp.Request.Method, resp.Request.URL, e, code)
	}
	return e
}

func hashOf(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}
