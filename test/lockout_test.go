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

	"github.com/waypost/waypost/internal/delivery"
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
// user name with blanks around it is not the trimmed name. The hub has one
// count for all its services: guesses on SMTP AUTH lock the account on the
// API too, and the other way round; and one per mailbox: guesses at two of
// its addresses count together.
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
password_hash = %[3]q
[[recipient]]
kind = "mailbox"
name = "Bob"
server = "hub1"
addresses = ["SMTP:bob@contoso.test", "smtp:b.jones@contoso.test"]
password_hash = %[3]q
[[recipient]]
kind = "mailbox"
name = "Carol"
server = "hub1"
addresses = ["SMTP:carol@contoso.test"]
password_hash = %[3]q
`, api, sub, hash))
	h := harness.Start(t, file, "hub1", sub, api)

	authAs := func(ip, user, pass string) *line {
		c := dialFrom(t, ip, sub)
		c.expect("220 ")
		c.cmd("EHLO client.contoso.test", "250 ")
		c.send(authPlainLine(user, pass) + "\r\n")
		return c
	}
	auth := func(ip, pass string) *line { return authAs(ip, "alice@contoso.test", pass) }
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

	// The API shares the count: Alice's account, locked by guesses on
	// SMTP AUTH, is locked there too for a new address; her own address
	// (known from SMTP) waits and is let in.
	url := "http://" + api + "/api/v1/address-types"
	r := apiFrom(t, "127.0.8.1", url, "alice@contoso.test", "secret")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("the API, from a new address at the account locked on SMTP: %s, Retry-After %q; want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	began = time.Now()
	if r := apiFrom(t, "127.0.0.1", url, "alice@contoso.test", "secret"); r.StatusCode != 200 {
		t.Errorf("the API from Alice's known address: %s", r.Status)
	} else if d := time.Since(began); d < 2*time.Second {
		t.Errorf("the API let the known address in after %v, want the 2 s delay", d)
	}
	// And the other way round: 20 guesses on the API from 20 addresses
	// lock Carol's account on SMTP AUTH.
	for i := range 20 {
		if r := apiFrom(t, fmt.Sprintf("127.0.7.%d", i+1), url, "carol@contoso.test", "guess"); r.StatusCode != 401 {
			t.Fatalf("API guess %d: %s", i+1, r.Status)
		}
	}
	authAs("127.0.8.2", "carol@contoso.test", "secret").expect("454 4.7.0 Too many failed authentication attempts for this account")

	// One count per mailbox: ten guesses at bob@ and ten at b.jones@ (his
	// alias) lock Bob's mailbox, under either name.
	for i := range 10 {
		user := map[bool]string{true: "bob@contoso.test", false: "b.jones@contoso.test"}[i < 5]
		c := authAs(fmt.Sprintf("127.0.9.%d", i+1), user, "guess")
		c.expect("535 ")
		c.cmd(authPlainLine(user, "guess2"), "535 ")
	}
	authAs("127.0.10.1", "bob@contoso.test", "secret").expect("454 4.7.0 Too many failed authentication attempts for this account")
	authAs("127.0.10.2", "b.jones@contoso.test", "secret").expect("454 4.7.0 ")
	if r := apiFrom(t, "127.0.10.3", url, "B.Jones@contoso.test", "secret"); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the API, Bob's alias from a new address: %s, want 429", r.Status)
	}

	m := scrape(t, api)
	for k, v := range map[string]float64{
		// 127.0.3.1, 127.0.4.1, 127.0.5.1-9, 127.0.9.1-10
		`waypost_login_lockouts_total{kind="address",service="smtp"}`: 21,
		`waypost_login_lockouts_total{kind="account",service="smtp"}`: 2, // Alice, Bob
		`waypost_login_lockouts_total{kind="account",service="api"}`:  1, // Carol
	} {
		if got := m[k]; got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if n := strings.Count(h.Log(), "login lockout"); n != 24 {
		t.Errorf("%d lockouts logged, want 24", n)
	}
	if !strings.Contains(h.Log(), "account=bob@contoso.test") {
		t.Errorf("Bob's lockout does not name his mailbox")
	}
	noRace(t, h)
}

// TestLockoutSparesRelay: the hub's one login limiter locks out an address
// on all its services, but never stops hub-to-hub relay. hub2 relays from
// 127.0.0.1; password guesses at hub1's API from 127.0.0.1 (a web portal on
// hub2's machine passing on its users' mistakes) lock that address out of
// hub1's submission connector, and hub1's relay listener still takes
// hub2's messages.
func TestLockoutSparesRelay(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	api, relay1, sub1, relay2, sub2 := harness.Port(t), harness.Port(t), harness.Port(t), harness.Port(t), harness.Port(t)
	harness.Write(t, filepath.Join(dir, "hub.secret"), "bG9ja291dCB0ZXN0IGh1YiBzZWNyZXQsIG5vdCBmb3IgdXNl\n")
	file := filepath.Join(dir, "org.toml")
	harness.Write(t, file, fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
hub_secret_file = "hub.secret"
retry = { glitch_count = 15, glitch_interval = "1s", transient_count = 15, transient_interval = "1s", outbound_interval = "1s" }
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
data_dir = "data/hub1"
api = %[1]q
relay = %[2]q
  [[server.receive]]
  name = "Clients"
  listen = %[3]q
  kind = "submission"
  max_auth_failures_per_ip = 2
[[server]]
name = "hub2"
site = "HQ"
data_dir = "data/hub2"
relay = %[4]q
  [[server.receive]]
  name = "Clients"
  listen = %[5]q
  kind = "submission"
[[accepted_domain]]
domain = "contoso.test"
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test"]
password_hash = %[6]q
[[recipient]]
kind = "mailbox"
name = "Bob"
server = "hub2"
addresses = ["SMTP:bob@contoso.test"]
password_hash = %[6]q
`, api, relay1, sub1, relay2, sub2, hash))
	h1 := harness.Start(t, file, "hub1", api, relay1, sub1)
	h2 := harness.Start(t, file, "hub2", relay2, sub2)

	url := "http://" + api + "/api/v1/address-types"
	for i := range 2 {
		if r := apiFrom(t, "127.0.0.1", url, "alice@contoso.test", "guess"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("API guess %d: %s", i+1, r.Status)
		}
	}
	dialFrom(t, "127.0.0.1", sub1).expect("421 4.7.0 Too many failed authentication attempts from your address")

	c := dialFrom(t, "127.0.0.1", sub2)
	c.expect("220 ")
	c.cmd("EHLO laptop.contoso.test", "250 ")
	c.cmd(authPlainLine("bob@contoso.test", "secret"), "235 ")
	c.cmd("MAIL FROM:<bob@contoso.test>", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: relayed from a locked-out address\r\n\r\nhello\r\n.\r\n")
	c.expect("250 ")
	c.cmd("QUIT", "221 ")
	data1 := filepath.Join(dir, "data", "hub1")
	folder := delivery.Folder("alice@contoso.test")
	// hub2 tries at once; 20 s is for a loaded machine under -race.
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := 0
		for _, m := range harness.Maildir(t, data1, folder) {
			if strings.Contains(m, "Subject: relayed from a locked-out address") {
				n++
			}
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d copies of the relayed message in Alice's mailbox on hub1 after 20 s\n--- hub1\n%.6000s\n--- hub2\n%.4000s", n, h1.Log(), h2.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(h2.Log(), "4.7.0") {
		t.Errorf("hub2 was refused by hub1's relay listener at some point:\n%.4000s", h2.Log())
	}
	m := scrape(t, api)
	if k := `waypost_login_lockouts_total{kind="address",service="api"}`; m[k] != 1 {
		t.Errorf("%s = %v, want 1", k, m[k])
	}
	noRace(t, h1)
	noRace(t, h2)
}
