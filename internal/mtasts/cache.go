package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/waypost/waypost/internal/durable"
)

// Cache finds the policy of a domain: from memory, the data folder or the
// domain's HTTPS server, as RFC 8461 section 5.1 orders it.
type Cache struct {
	// Resolver asks for the TXT records and the HTTPS server's address;
	// nil: the system's resolver.
	Resolver *net.Resolver
	// Dir keeps the fetched policies (one JSON file per domain) across
	// restarts; "": memory only.
	Dir string
	// Log receives fetch failures; nil: slog.Default().
	Log *slog.Logger

	// Port and RootCAs are for tests only (nothing in the organization
	// file sets them): the port of the HTTPS server instead of 443, and
	// the roots its certificate must chain to instead of the system's.
	Port    string
	RootCAs *x509.CertPool

	mu       sync.Mutex
	mem      map[string]*Policy     // by domain, lower case
	fetching map[string]*sync.Mutex // by domain: held while its policy is fetched
	now      func() time.Time       // tests move time; nil: time.Now
}

// Get returns the policy in force for domain, or nil when the domain has
// none: no STSv1 TXT record and no fresh cached policy, or a record but
// no policy that could be fetched and none cached (section 5: "as though
// the domain has not implemented MTA-STS"). A fetch failure is logged.
func (c *Cache) Get(ctx context.Context, domain string) *Policy {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	now := c.clock()
	cached := c.cached(domain)
	if !cached.Fresh(now) {
		cached = nil
	}
	id, err := c.lookupID(ctx, domain)
	switch {
	case err != nil:
		// No record, or DNS did not answer: the cached policy stays in
		// force until its max_age runs out (section 5.1).
		return cached
	case cached != nil && cached.ID == id:
		return cached
	}
	// One fetch per domain at a time: deliveries to the same domain that
	// run side by side wait for the first one's policy.
	unlock := c.lockDomain(domain)
	defer unlock()
	if p := c.cached(domain); p.Fresh(now) && p.ID == id {
		return p
	}
	p, err := c.fetch(ctx, domain)
	if err != nil {
		c.log().Warn("MTA-STS policy fetch failed", "domain", domain, "error", err, "cached", cached != nil)
		return cached
	}
	p.Domain, p.ID, p.Fetched = domain, id, now
	c.store(p)
	return p
}

// lockDomain takes the fetch lock of domain and returns its release.
func (c *Cache) lockDomain(domain string) func() {
	c.mu.Lock()
	if c.fetching == nil {
		c.fetching = map[string]*sync.Mutex{}
	}
	l := c.fetching[domain]
	if l == nil {
		l = &sync.Mutex{}
		c.fetching[domain] = l
	}
	c.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (c *Cache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (c *Cache) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

// lookupID returns the id of domain's _mta-sts TXT record. Several STSv1
// records are no record (section 3.1).
func (c *Cache) lookupID(ctx context.Context, domain string) (string, error) {
	r := c.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	txts, err := r.LookupTXT(ctx, "_mta-sts."+domain+".")
	if err != nil {
		return "", err
	}
	var ids []string
	for _, t := range txts {
		if id, ok := parseTXT(t); ok {
			ids = append(ids, id)
		} else if strings.HasPrefix(t, "v=STSv1") {
			return "", fmt.Errorf("_mta-sts.%s: malformed record %q", domain, t)
		}
	}
	if len(ids) != 1 {
		return "", fmt.Errorf("_mta-sts.%s: %d STSv1 records", domain, len(ids))
	}
	return ids[0], nil
}

// MaxPolicySize is the largest policy file read (RFC 8461 section 3.3
// has senders cap it; 64 KiB, as the section's example).
const MaxPolicySize = 64 << 10

// fetch asks https://mta-sts.<domain>/.well-known/mta-sts.txt: a
// certificate valid for that name (section 3.3), status 200 without
// following redirects, media type text/plain.
func (c *Cache) fetch(ctx context.Context, domain string) (*Policy, error) {
	host := "mta-sts." + domain
	addr := host
	if c.Port != "" {
		addr = net.JoinHostPort(host, c.Port)
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, Resolver: c.Resolver}
	client := &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			DialContext:     dialer.DialContext,
			TLSClientConfig: &tls.Config{RootCAs: c.RootCAs, ServerName: host, MinVersion: tls.VersionTLS12},
			Proxy:           nil, // no proxy from the environment: the policy comes from the domain itself
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	url := "https://" + addr + "/.well-known/mta-sts.txt"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP status %s (redirects are not followed)", url, resp.Status)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, fmt.Errorf("%s: media type %q, want text/plain", url, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", url, err)
	}
	if len(body) > MaxPolicySize {
		return nil, fmt.Errorf("%s: the policy is larger than %d bytes", url, MaxPolicySize)
	}
	p, err := Parse(string(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", url, err)
	}
	return p, nil
}

// cached returns the policy of domain in memory, or else in Dir.
func (c *Cache) cached(domain string) *Policy {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.mem[domain]; ok {
		return p
	}
	if c.Dir == "" {
		return nil
	}
	b, err := os.ReadFile(c.file(domain))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			c.log().Warn("MTA-STS cached policy unreadable", "error", err)
		}
		return nil
	}
	var p Policy
	if err := json.Unmarshal(b, &p); err != nil || p.Domain != domain {
		c.log().Warn("MTA-STS cached policy unreadable; it will be fetched again", "file", c.file(domain), "error", err)
		return nil
	}
	c.remember(&p)
	return &p
}

// store keeps p in memory and in Dir; a failed write is logged: the
// policy is fetched again after a restart.
func (c *Cache) store(p *Policy) {
	c.mu.Lock()
	c.remember(p)
	c.mu.Unlock()
	if c.Dir == "" {
		return
	}
	b, err := json.Marshal(p)
	if err == nil {
		err = durable.MkdirAll(durable.OS, c.Dir, 0o700)
	}
	if err == nil {
		err = durable.WriteFile(c.file(p.Domain), b, 0o600)
	}
	if err != nil {
		c.log().Warn("MTA-STS policy not kept in the data folder", "domain", p.Domain, "error", err)
	}
}

// remember keeps p in memory; c.mu held.
func (c *Cache) remember(p *Policy) {
	if c.mem == nil {
		c.mem = map[string]*Policy{}
	}
	c.mem[p.Domain] = p
}

// file is where the policy of domain is kept.
func (c *Cache) file(domain string) string {
	return filepath.Join(c.Dir, durable.SafeName(domain)+".json")
}
