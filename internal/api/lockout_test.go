package api_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/api"
	"github.com/waypost/waypost/internal/loginlimit"
)

// from makes a request from a given loopback address (Linux answers for
// all of 127.0.0.0/8), to stand for another client machine.
func (e *env) from(ip string, r req) *http.Response {
	e.t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	hr, err := http.NewRequestWithContext(context.Background(), http.MethodGet, e.ts.URL+r.path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	hr.SetBasicAuth(r.user, r.pass)
	resp, err := c.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// The API has the SMTP rules against password guessing: guesses at one
// account from many addresses lock the account (429 locked_out for a new
// address, even with the right password), the real user from an address
// she logged in from is delayed but let in, and guesses from one address
// lock that address out. Every lockout is reported for /metrics.
func TestLoginLockouts(t *testing.T) {
	var mu sync.Mutex
	var lockouts []string
	lim := loginlimit.New(loginlimit.Policy{MaxPerAddr: 3, MaxPerAccount: 4, Window: time.Minute, Lockout: time.Minute, KnownDelay: 300 * time.Millisecond}, nil)
	lim.OnLockout = func(service, kind string) { mu.Lock(); lockouts = append(lockouts, service+"/"+kind); mu.Unlock() }
	e := newEnv(t, orgText(true), "hub-hq", func(c *api.Config) { c.Throttle = &api.Throttle{Free: 100}; c.Logins = lim })
	const path = "/api/v1/address-types"
	decode(t, e.from("127.0.0.1", req{path: path, user: "alice@contoso.test", pass: "pw"}), http.StatusOK, &addrTypes{})
	for _, ip := range []string{"127.0.2.1", "127.0.2.2", "127.0.2.3", "127.0.2.4"} {
		apiError(t, e.from(ip, req{path: path, user: "alice@contoso.test", pass: "guess"}), http.StatusUnauthorized, api.CodeUnauthorized)
	}
	resp := e.from("127.0.2.9", req{path: path, user: "alice@contoso.test", pass: "pw"})
	if ra := resp.Header.Get("Retry-After"); ra == "" {
		t.Error("no Retry-After on a lockout")
	}
	if e := apiError(t, resp, http.StatusTooManyRequests, api.CodeLockedOut); !strings.Contains(e.Error, "this account") {
		t.Errorf("error %q", e.Error)
	}
	began := time.Now()
	decode(t, e.from("127.0.0.1", req{path: path, user: "alice@contoso.test", pass: "pw"}), http.StatusOK, &addrTypes{})
	if d := time.Since(began); d < 300*time.Millisecond {
		t.Errorf("the known address was answered after %v, want the 300ms delay", d)
	}
	decode(t, e.from("127.0.2.9", req{path: path, user: "bob@contoso.test", pass: "pw"}), http.StatusOK, &addrTypes{})

	// One address guessing at several accounts.
	for _, u := range []string{"bob@contoso.test", "carol@contoso.test", "dave@contoso.test"} {
		apiError(t, e.from("127.0.3.1", req{path: path, user: u, pass: "guess"}), http.StatusUnauthorized, api.CodeUnauthorized)
	}
	apiError(t, e.from("127.0.3.1", req{path: path, user: "bob@contoso.test", pass: "pw"}), http.StatusTooManyRequests, api.CodeLockedOut)
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(lockouts, " "); got != "api/account api/address" {
		t.Errorf("lockouts reported: %q", got)
	}
}
