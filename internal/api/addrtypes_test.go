package api_test

import (
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/api"
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/routing"
)

type addrTypes struct {
	Site    string   `json:"site"`
	Types   []string `json:"types"`
	Version string   `json:"version"`
}

func TestAddressTypesOfCallersSite(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	for _, tc := range []struct {
		r     req
		site  string
		types []string
	}{
		{alice("GET", "/api/v1/address-types"), "HQ", []string{"EX", "SMTP", "X500"}},
		// Bob's home is in Branch, so he sees FAX even through hub-hq's API.
		{bob("GET", "/api/v1/address-types"), "Branch", []string{"EX", "FAX", "SMTP", "X500"}},
	} {
		resp := e.do(tc.r)
		var got addrTypes
		decode(t, resp, http.StatusOK, &got)
		want := e.engine.Load().AddressTypes(tc.site)
		if got.Site != tc.site || !slices.Equal(got.Types, tc.types) || got.Version != want.Version {
			t.Errorf("%s: %+v, want site %s, types %v, version %s", tc.r.user, got, tc.site, tc.types, want.Version)
		}
		if et := resp.Header.Get("ETag"); et != `"`+got.Version+`"` {
			t.Errorf("ETag %q, want the quoted version %q", et, got.Version)
		}
	}
}

func TestAddressTypesNotModified(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	var first addrTypes
	decode(t, e.do(alice("GET", "/api/v1/address-types")), http.StatusOK, &first)
	for _, inm := range []string{`"` + first.Version + `"`, `W/"` + first.Version + `"`, `"other", "` + first.Version + `"`, "*"} {
		r := alice("GET", "/api/v1/address-types")
		r.header = map[string]string{"If-None-Match": inm}
		resp := e.do(r)
		if resp.StatusCode != http.StatusNotModified || resp.Header.Get("ETag") != `"`+first.Version+`"` {
			t.Errorf("If-None-Match %s: status %d, ETag %q; want 304 with the ETag", inm, resp.StatusCode, resp.Header.Get("ETag"))
		}
	}
	r := alice("GET", "/api/v1/address-types")
	r.header = map[string]string{"If-None-Match": `"0000000000000000"`}
	var got addrTypes
	decode(t, e.do(r), http.StatusOK, &got)
	if got.Version != first.Version {
		t.Errorf("version %s, want %s", got.Version, first.Version)
	}
}

// longPoll starts a long poll as Alice with If-None-Match version and
// returns a channel that gets the response and the time it came.
func longPoll(e *env, version, wait string) chan pollResult {
	r := alice("GET", "/api/v1/address-types?wait="+wait)
	r.header = map[string]string{"If-None-Match": `"` + version + `"`}
	out := make(chan pollResult, 1)
	go func() {
		hr, _ := http.NewRequest(r.method, e.ts.URL+r.path, nil)
		hr.SetBasicAuth(r.user, r.pass)
		hr.Header.Set("If-None-Match", r.header["If-None-Match"])
		resp, err := e.ts.Client().Do(hr)
		out <- pollResult{resp, err, time.Now()}
	}()
	return out
}

type pollResult struct {
	resp *http.Response
	err  error
	at   time.Time
}

func TestLongPollLearnsOfReload(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq", func(c *api.Config) { c.Poll = 100 * time.Millisecond })
	var before addrTypes
	decode(t, e.do(alice("GET", "/api/v1/address-types")), http.StatusOK, &before)
	poll := longPoll(e, before.Version, "20s")
	time.Sleep(300 * time.Millisecond) // the call is waiting now
	select {
	case p := <-poll:
		t.Fatalf("the long poll answered before any change: %v %v", p.resp.Status, p.err)
	default:
	}
	swapped := time.Now()
	e.swap(orgText(false)) // the fax connector unscoped: HQ may send faxes
	p := <-poll
	if p.err != nil {
		t.Fatal(p.err)
	}
	defer p.resp.Body.Close()
	if d := p.at.Sub(swapped); d > time.Second {
		t.Errorf("the long poll answered %s after the reload, want within 1s", d)
	}
	var after addrTypes
	decode(t, p.resp, http.StatusOK, &after)
	if !slices.Contains(after.Types, "FAX") || after.Version == before.Version || p.resp.Header.Get("ETag") != `"`+after.Version+`"` {
		t.Errorf("after the reload: %+v (ETag %s), before: %+v", after, p.resp.Header.Get("ETag"), before)
	}
}

func TestLongPollIgnoresReloadWithSameTypes(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	var before addrTypes
	decode(t, e.do(alice("GET", "/api/v1/address-types")), http.StatusOK, &before)
	start := time.Now()
	poll := longPoll(e, before.Version, "800ms")
	time.Sleep(200 * time.Millisecond)
	// A new engine whose lists are the same: one more SMTP contact.
	e.swap(orgText(true, `[[recipient]]
kind = "contact"
name = "Carol"
addresses = ["SMTP:carol@contoso.test"]
target = "SMTP:carol@fabrikam.test"`))
	p := <-poll
	if p.err != nil {
		t.Fatal(p.err)
	}
	defer p.resp.Body.Close()
	if p.resp.StatusCode != http.StatusNotModified {
		t.Errorf("status %d, want 304 (the list did not change)", p.resp.StatusCode)
	}
	if d := p.at.Sub(start); d < 800*time.Millisecond {
		t.Errorf("answered after %s, want after the whole wait (800ms)", d)
	}
}

func TestLongPollWaitIsCapped(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq", func(c *api.Config) { c.MaxWait = 300 * time.Millisecond })
	var at addrTypes
	decode(t, e.do(alice("GET", "/api/v1/address-types")), http.StatusOK, &at)
	start := time.Now()
	p := <-longPoll(e, at.Version, "1h")
	if p.err != nil {
		t.Fatal(p.err)
	}
	p.resp.Body.Close()
	if d := p.at.Sub(start); p.resp.StatusCode != http.StatusNotModified || d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("status %d after %s; want 304 after the cap of 300ms", p.resp.StatusCode, d)
	}
}

func TestLongPollEndsAtClose(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	var at addrTypes
	decode(t, e.do(alice("GET", "/api/v1/address-types")), http.StatusOK, &at)
	poll := longPoll(e, at.Version, "30s")
	time.Sleep(200 * time.Millisecond)
	closed := time.Now()
	e.srv.Close()
	p := <-poll
	if p.err != nil {
		t.Fatal(p.err)
	}
	p.resp.Body.Close()
	if d := p.at.Sub(closed); p.resp.StatusCode != http.StatusNotModified || d > time.Second {
		t.Errorf("status %d %s after Close; want 304 at once", p.resp.StatusCode, d)
	}
}

func TestWaitWithoutIfNoneMatchAnswersAtOnce(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	start := time.Now()
	decode(t, e.do(alice("GET", "/api/v1/address-types?wait=30s")), http.StatusOK, &addrTypes{})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestBadWait(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	for _, w := range []string{"abc", "-1s", "10x", "1e9999", ""} {
		apiError(t, e.do(alice("GET", "/api/v1/address-types?wait="+w)), http.StatusBadRequest, api.CodeBadWait)
	}
	// A number is seconds.
	decode(t, e.do(alice("GET", "/api/v1/address-types?wait=2")), http.StatusOK, &addrTypes{})
}

// liveDir is a directory whose contents change under a running engine,
// as an LDAP directory's do: every call goes to the current Memory.
type liveDir struct {
	cur atomic.Pointer[directory.Memory]
}

func (d *liveDir) Lookup(a address.Address) *directory.Entry        { return d.cur.Load().Lookup(a) }
func (d *liveDir) Find(a address.Address) (*directory.Entry, error) { return d.cur.Load().Find(a) }
func (d *liveDir) Entries() []*directory.Entry                      { return d.cur.Load().Entries() }
func (d *liveDir) Walk(f func(*directory.Entry) bool) error         { return d.cur.Load().Walk(f) }
func (d *liveDir) Types() ([]string, string, error)                 { return d.cur.Load().Types() }
func (d *liveDir) Authenticate(u, p string) (*directory.Entry, error) {
	return d.cur.Load().Authenticate(u, p)
}
func (d *liveDir) EachWithType(typ string, f func(*directory.Entry) bool) error {
	return d.cur.Load().EachWithType(typ, f)
}

// A directory that gains an address type (an SMS number on a mailbox)
// changes the list and its version without a reload, and a long poll
// hears of it.
func TestDirectoryChangeChangesAddressTypes(t *testing.T) {
	text := orgText(true)
	org, err := config.Parse([]byte(text), "test.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mem := func(extra ...*directory.Entry) *directory.Memory {
		m, err := directory.NewMemory(append(slices.Clone(org.Recipients), extra...))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	live := &liveDir{}
	live.cur.Store(mem())
	e := &env{t: t, server: "hub-hq", boxes: &delivery.Maildir{Root: t.TempDir(), Hostname: "hub-hq.contoso.test"}}
	e.engine.Store(routing.New(org, live))
	e.start()

	var before addrTypes
	decode(t, e.do(alice("GET", "/api/v1/address-types")), http.StatusOK, &before)
	if slices.Contains(before.Types, "SMS") {
		t.Fatalf("SMS listed before any recipient has it: %+v", before)
	}
	poll := longPoll(e, before.Version, "20s")
	time.Sleep(200 * time.Millisecond)
	sms, err := address.ParseTyped("SMS:+1 555 0111")
	if err != nil {
		t.Fatal(err)
	}
	smtp, err := address.ParseTyped("SMTP:pager@contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	live.cur.Store(mem(&directory.Entry{Kind: directory.Mailbox, Name: "Pager", Server: "hub-hq", ID: "pager",
		Addresses: []directory.Proxy{{Address: smtp, Primary: true}, {Address: sms, Primary: true}}}))
	select {
	case p := <-poll:
		var got addrTypes
		decode(t, p.resp, http.StatusOK, &got)
		if !slices.Contains(got.Types, "SMS") || got.Version == before.Version {
			t.Errorf("after the directory gained SMS: %+v (before %+v)", got, before)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the long poll did not hear of the directory change")
	}
}
