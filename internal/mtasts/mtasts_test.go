package mtasts

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/dnstest"
	"github.com/waypost/waypost/internal/testcert"
)

func TestParse(t *testing.T) {
	p, err := Parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmx: *.example.net\r\nmax_age: 86400\r\nextension: ignored\r\n")
	if err != nil || p.Mode != Enforce || len(p.MX) != 2 || p.MaxAge != 24*time.Hour {
		t.Fatalf("%+v %v", p, err)
	}
	for host, want := range map[string]bool{
		"mail.example.test": true, "MAIL.example.test.": true, "mx1.example.net": true,
		"example.net": false, "a.b.example.net": false, "other.example.test": false,
	} {
		if p.Match(host) != want {
			t.Errorf("Match(%q) = %v", host, !want)
		}
	}
	if p, err := Parse("version: STSv1\nmode: testing\nmx: a.test\nmax_age: 99999999999\n"); err == nil {
		t.Errorf("max_age of 11 digits accepted: %+v", p)
	}
	if p, err := Parse("version: STSv1\nmode: testing\nmx: a.test\nmax_age: 4000000000\n"); err != nil || p.MaxAge != MaxMaxAge {
		t.Errorf("max_age beyond a year: %+v %v, want capped", p, err)
	}
	for _, bad := range []string{
		"mode: enforce\nmx: a.test\nmax_age: 60\n",                // no version
		"version: STSv1\nmode: strict\nmx: a.test\nmax_age: 60\n", // bad mode
		"version: STSv1\nmode: enforce\nmax_age: 60\n",            // no mx
		"version: STSv1\nmode: enforce\nmx: a.test\n",             // no max_age
		"version: STSv1\nmode enforce\nmx: a.test\nmax_age: 60\n", // no colon
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	for txt, want := range map[string]string{"v=STSv1; id=20261205T1": "20261205T1", "v=STSv1;id=abc": "abc", "v=STSv2; id=abc": "", "v=STSv1; id=a-b": ""} {
		if id, _ := parseTXT(txt); id != want {
			t.Errorf("parseTXT(%q) = %q, want %q", txt, id, want)
		}
	}
}

// policyServer is the HTTPS server of mta-sts.example.test on loopback,
// with a certificate of a test CA, counting the requests it gets.
type policyServer struct {
	*httptest.Server
	port string
	mu   sync.Mutex
	n    int
	body string
}

func startPolicyServer(t *testing.T, ca *testcert.CA, name, body string) *policyServer {
	t.Helper()
	ps := &policyServer{body: body}
	ps.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		ps.n++
		body := ps.body
		ps.mu.Unlock()
		if r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(body))
	}))
	ps.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, name).TLS}}
	ps.StartTLS()
	t.Cleanup(ps.Close)
	_, ps.port, _ = net.SplitHostPort(ps.Listener.Addr().String())
	return ps
}

func (ps *policyServer) requests() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.n
}

func (ps *policyServer) set(body string) {
	ps.mu.Lock()
	ps.body = body
	ps.mu.Unlock()
}

const enforcePolicy = "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 3600\n"

// The policy is fetched once, kept while the TXT id stays, fetched again
// when it changes, kept in the data folder for the next process, and
// given up when its max_age ran out and the server is gone.
func TestCache(t *testing.T) {
	ca := testcert.NewCA(t)
	ps := startPolicyServer(t, ca, "mta-sts.example.test", enforcePolicy)
	zone := dnstest.Start(t,
		`_mta-sts.example.test. 60 IN TXT "v=STSv1; id=one"`,
		"mta-sts.example.test. 60 IN A 127.0.0.1")
	dir := filepath.Join(t.TempDir(), "mta-sts")
	c := &Cache{Resolver: zone.Resolver(), Dir: dir, Port: ps.port, RootCAs: ca.Pool}
	ctx := context.Background()

	p := c.Get(ctx, "Example.test")
	if p == nil || p.Mode != Enforce || p.ID != "one" || !p.Match("mx.example.test") {
		t.Fatalf("policy %+v", p)
	}
	if c.Get(ctx, "example.test") == nil || ps.requests() != 1 {
		t.Errorf("%d requests for two deliveries, want 1 (cached)", ps.requests())
	}
	if _, err := os.Stat(filepath.Join(dir, "example.test.json")); err != nil {
		t.Errorf("not kept in the data folder: %v", err)
	}

	// A new id: fetched again.
	ps.set("version: STSv1\nmode: testing\nmx: *.example.test\nmax_age: 3600\n")
	zone2 := dnstest.Start(t,
		`_mta-sts.example.test. 60 IN TXT "v=STSv1; id=two"`,
		"mta-sts.example.test. 60 IN A 127.0.0.1")
	c.Resolver = zone2.Resolver()
	if p := c.Get(ctx, "example.test"); p == nil || p.Mode != Testing || p.ID != "two" || ps.requests() != 2 {
		t.Errorf("after the id changed: %+v, %d requests", p, ps.requests())
	}

	// Another process with the same data folder, the HTTPS server gone
	// and the TXT record too: the kept policy holds until max_age.
	ps.Close()
	empty := dnstest.Start(t)
	later := &Cache{Resolver: empty.Resolver(), Dir: dir, Port: ps.port, RootCAs: ca.Pool}
	if p := later.Get(ctx, "example.test"); p == nil || p.ID != "two" {
		t.Errorf("from the data folder: %+v", p)
	}
	later.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if p := later.Get(ctx, "example.test"); p != nil {
		t.Errorf("a policy past its max_age is still used: %+v", p)
	}
}

// A certificate for another name, a redirect, or another media type: no
// policy (the domain is treated as having none).
func TestFetchRefused(t *testing.T) {
	ca := testcert.NewCA(t)
	zone := dnstest.Start(t,
		`_mta-sts.example.test. 60 IN TXT "v=STSv1; id=one"`,
		"mta-sts.example.test. 60 IN A 127.0.0.1")
	wrong := startPolicyServer(t, ca, "www.example.test", enforcePolicy)
	c := &Cache{Resolver: zone.Resolver(), Port: wrong.port, RootCAs: ca.Pool}
	if p := c.Get(context.Background(), "example.test"); p != nil {
		t.Errorf("policy from a server with another name's certificate: %+v", p)
	}
	untrusted := startPolicyServer(t, testcert.NewCA(t), "mta-sts.example.test", enforcePolicy)
	c = &Cache{Resolver: zone.Resolver(), Port: untrusted.port, RootCAs: ca.Pool}
	if p := c.Get(context.Background(), "example.test"); p != nil {
		t.Errorf("policy from a server with an untrusted certificate: %+v", p)
	}

	redirect := httptest.NewUnstartedServer(http.RedirectHandler("https://elsewhere.test/", http.StatusFound))
	redirect.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "mta-sts.example.test").TLS}}
	redirect.StartTLS()
	defer redirect.Close()
	_, port, _ := net.SplitHostPort(redirect.Listener.Addr().String())
	c = &Cache{Resolver: zone.Resolver(), Port: port, RootCAs: ca.Pool}
	if _, err := c.fetch(context.Background(), "example.test"); err == nil || !strings.Contains(err.Error(), "302") {
		t.Errorf("redirect: %v", err)
	}
}

// Deliveries to one domain side by side fetch its policy once.
func TestConcurrentGet(t *testing.T) {
	ca := testcert.NewCA(t)
	ps := startPolicyServer(t, ca, "mta-sts.example.test", enforcePolicy)
	zone := dnstest.Start(t,
		`_mta-sts.example.test. 60 IN TXT "v=STSv1; id=one"`,
		"mta-sts.example.test. 60 IN A 127.0.0.1")
	c := &Cache{Resolver: zone.Resolver(), Port: ps.port, RootCAs: ca.Pool}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if p := c.Get(context.Background(), "example.test"); p == nil || p.Mode != Enforce {
				t.Errorf("policy %+v", p)
			}
		})
	}
	wg.Wait()
	if n := ps.requests(); n != 1 {
		t.Errorf("%d fetches for 8 deliveries side by side, want 1", n)
	}
}
