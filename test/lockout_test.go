package test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/waypost/waypost/test/harness"
)

// apiFrom makes an API call as user from a given loopback address.
func apiFrom(t *testing.T, ip, url, user, pass string) *http.Response {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 20 * time.Second}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestLoginLockouts runs password guessing against the real binary, on
// SMTP AUTH and on the HTTP API: one address is locked out after
// max_auth_failures_per_ip, guesses at one account from many addresses
// lock the account for new addresses while its owner, from an address she
// logged in from, is let in; every lockout is logged and in /metrics. A
// user name with blanks around it is not the trimmed name.
func TestLoginLockouts(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sub, api := harness.Port(t), harness.Port(t)
	file := filepath.Join(dir, "org.toml")
	harness.Write(t, file, fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
api = %q
  [[server.receive]]
  name = "Clients"
  listen = %q
  kind = "submission"
  max_auth_failures_per_ip = 2
[[accepted_domain]]
domain = "contoso.test"
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test"]
password_hash = %q
`, api, sub, hash))
	h := harness.Start(t, file, "hub1", sub, api)

	auth := func(ip, pass string) *line {
		c := dialFrom(t, ip, sub)
		c.expect("220 ")
		c.cmd("EHLO client.contoso.test", "250 ")
		c.send(authPlainLine("alice@contoso.test", pass) + "\r\n")
		return c
	}
	// Alice's usual address.
	auth("127.0.0.1", "secret").expect("235 ")
	// Her name with a blank before it is not her name.
	c := dialFrom(t, "127.0.3.1", sub)
	c.expect("220 ")
	c.cmd("EHLO client.contoso.test", "250 ")
	c.cmd(authPlainLine(" alice@contoso.test", "secret"), "535 5.7.8 ")
	c.cmd(authPlainLine("alice@contoso.test ", "secret"), "535 5.7.8 ")
	// One address guessing: locked out at the second failure.
	c = auth("127.0.4.1", "guess")
	c.expect("535 5.7.8 ")
	c.cmd(authPlainLine("alice@contoso.test", "guess2"), "535 5.7.8 ")
	c.expect("421 4.7.0 ")
	dialFrom(t, "127.0.4.1", sub).expect("421 4.7.0 Too many failed authentication attempts from your address")
	// Nine more addresses, two guesses each: 20 failures at the account.
	for i := range 9 {
		c := auth(fmt.Sprintf("127.0.5.%d", i+1), "guess")
		c.expect("535 ")
		c.cmd(authPlainLine("alice@contoso.test", "guess2"), "535 ")
	}
	auth("127.0.6.1", "secret").expect("454 4.7.0 Too many failed authentication attempts for this account")
	began := time.Now()
	auth("127.0.0.1", "secret").expect("235 ")
	if d := time.Since(began); d < 2*time.Second {
		t.Errorf("the known address was let in after %v, want the 2 s delay", d)
	}

	// The API: 20 guesses from 20 addresses lock the account there too.
	url := "http://" + api + "/api/v1/address-types"
	if r := apiFrom(t, "127.0.0.1", url, "alice@contoso.test", "secret"); r.StatusCode != 200 {
		t.Fatalf("API login: %s", r.Status)
	}
	for i := range 20 {
		if r := apiFrom(t, fmt.Sprintf("127.0.7.%d", i+1), url, "alice@contoso.test", "guess"); r.StatusCode != 401 {
			t.Fatalf("guess %d: %s", i+1, r.Status)
		}
	}
	r := apiFrom(t, "127.0.8.1", url, "alice@contoso.test", "secret")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("a new address at the locked account: %s, Retry-After %q; want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	if r := apiFrom(t, "127.0.0.1", url, "alice@contoso.test", "secret"); r.StatusCode != 200 {
		t.Errorf("the known address: %s", r.Status)
	}

	m := scrape(t, api)
	for k, v := range map[string]float64{
		`waypost_login_lockouts_total{kind="address",service="smtp"}`: 11, // 127.0.3.1, 127.0.4.1, 127.0.5.1-9
		`waypost_login_lockouts_total{kind="account",service="smtp"}`: 1,
		`waypost_login_lockouts_total{kind="account",service="api"}`:  1,
	} {
		if got := m[k]; got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if n := strings.Count(h.Log(), "login lockout"); n != 13 {
		t.Errorf("%d lockouts logged, want 13", n)
	}
	noRace(t, h)
}
