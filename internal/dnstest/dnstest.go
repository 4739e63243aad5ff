// Package dnstest is a private DNS server for tests (github.com/miekg/dns
// on a loopback UDP port), so that no test asks the system's resolver or
// the Internet: it answers the records it was given, NXDOMAIN for every
// other name, and never answers the names it was told to stay silent on
// (a timeout, for temperror tests).
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
	asked  []string
}

// Start serves records (zone file lines: "corp.test. 60 IN TXT \"v=spf1 -all\"")
// until the test ends.
func Start(t testing.TB, records ...string) *Zone {
	t.Helper()
	z := &Zone{rrs: map[string][]dns.RR{}, silent: map[string]bool{}}
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

func (z *Zone) serve(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	key := name + " " + dns.TypeToString[q.Qtype]
	z.mu.Lock()
	z.asked = append(z.asked, key)
	silent := z.silent[name]
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
	m.Authoritative = true
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
