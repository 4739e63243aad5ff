// Package dnstest is a private DNS server for tests (github.com/miekg/dns
// on a loopback UDP port), so that no test asks the system's resolver or
// the Internet: it answers the records it was given, NXDOMAIN for every
// other name, and never answers the names it was told to stay silent on
// (a timeout, for temperror tests). It plays a DNSSEC-validating resolver
// as far as its clients can tell (RFC 4035 section 3.2.3, RFC 6840
// section 5.8): answers for names under a zone marked Secure carry the
// AD bit, and names marked Bogus get SERVFAIL, as a validating resolver
// answers a failed validation.
package dnstest

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Zone is a running server.
type Zone struct {
	Addr   string // ip:port
	mu     sync.Mutex
	rrs    map[string][]dns.RR // by "name. TYPE", name in lower case
	silent map[string]bool     // names (lower case, with the final dot) never answered
	secure []string            // zones whose answers carry the AD bit (lower case, final dot)
	bogus  map[string]bool     // names answered SERVFAIL
	asked  []string
}

// Start serves records (zone file lines: "corp.test. 60 IN TXT \"v=spf1 -all\"")
// until the test ends.
func Start(t testing.TB, records ...string) *Zone {
	t.Helper()
	z := &Zone{rrs: map[string][]dns.RR{}, silent: map[string]bool{}, bogus: map[string]bool{}}
	for _, r := range records {
		z.Add(t, r)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	z.Addr = pc.LocalAddr().String()
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(z.serve)}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return z
}

// Add adds a record.
func (z *Zone) Add(t testing.TB, record string) {
	t.Helper()
	rr, err := dns.NewRR(record)
	if err != nil {
		t.Fatalf("record %q: %v", record, err)
	}
	key := strings.ToLower(rr.Header().Name) + " " + dns.TypeToString[rr.Header().Rrtype]
	z.mu.Lock()
	z.rrs[key] = append(z.rrs[key], rr)
	z.mu.Unlock()
}

// Silence makes the server drop every question about name.
func (z *Zone) Silence(name string) {
	z.mu.Lock()
	z.silent[strings.ToLower(dns.Fqdn(name))] = true
	z.mu.Unlock()
}

// Secure marks the zones (and every name under them) as DNSSEC-signed
// and validated: their answers, NXDOMAIN and no data included, carry the
// AD bit.
func (z *Zone) Secure(zones ...string) {
	z.mu.Lock()
	for _, s := range zones {
		z.secure = append(z.secure, strings.ToLower(dns.Fqdn(s)))
	}
	z.mu.Unlock()
}

// Bogus makes the server answer SERVFAIL to every question about name,
// as a validating resolver answers when the signatures do not verify.
func (z *Zone) Bogus(name string) {
	z.mu.Lock()
	z.bogus[strings.ToLower(dns.Fqdn(name))] = true
	z.mu.Unlock()
}

// isSecure reports whether name is under a zone marked Secure; z.mu held.
func (z *Zone) isSecure(name string) bool {
	for _, s := range z.secure {
		if dns.IsSubDomain(s, name) {
			return true
		}
	}
	return false
}

func (z *Zone) serve(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	key := name + " " + dns.TypeToString[q.Qtype]
	z.mu.Lock()
	z.asked = append(z.asked, key)
	silent, bogus, secure := z.silent[name], z.bogus[name], z.isSecure(name)
	answer := z.rrs[key]
	exists := false
	for k := range z.rrs {
		if strings.HasPrefix(k, name+" ") {
			exists = true
		}
	}
	z.mu.Unlock()
	if silent {
		return
	}
	m := new(dns.Msg)
	m.SetReply(req)
	if o := req.IsEdns0(); o != nil {
		m.SetEdns0(o.UDPSize(), o.Do())
	}
	switch {
	case bogus:
		m.Rcode = dns.RcodeServerFailure
		w.WriteMsg(m)
		return
	case secure:
		m.AuthenticatedData = true
	default:
		m.Authoritative = true
	}
	m.Answer = answer
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

// Asked reports whether the server was asked key ("name. TYPE").
func (z *Zone) Asked(key string) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, a := range z.asked {
		if a == strings.ToLower(key) || strings.EqualFold(a, key) {
			return true
		}
	}
	return false
}

// Resolver is Go's resolver asking this server only.
func (z *Zone) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, z.Addr)
	}}
}
