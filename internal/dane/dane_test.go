package dane

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/dnstest"
	"github.com/waypost/waypost/internal/testcert"
)

// The lookup against a private DNS server playing a validating resolver:
// what RFC 7672 section 2.2 makes of each answer.
func TestTLSA(t *testing.T) {
	ca := testcert.NewCA(t)
	leaf := ca.Issue(t, "mx.secure.test")
	ee := Record(leaf.TLS.Leaf, 1, 1)
	zone := dnstest.Start(t,
		"mx.secure.test. 60 IN A 127.0.0.1",
		"_25._tcp.mx.secure.test. 60 IN TLSA 3 1 1 "+ee,
		"_25._tcp.mx.secure.test. 60 IN TLSA 1 0 1 "+ee, // PKIX-EE: unusable
		"mx2.secure.test. 60 IN A 127.0.0.1",            // no TLSA
		"mx3.secure.test. 60 IN A 127.0.0.1",
		"_25._tcp.mx3.secure.test. 60 IN TLSA 0 0 1 "+ee, // PKIX-TA only
		"mx4.secure.test. 60 IN A 127.0.0.1",             // TLSA bogus
		"mx.plain.test. 60 IN A 127.0.0.1",
		"_25._tcp.mx.plain.test. 60 IN TLSA 3 1 1 "+ee)
	zone.Secure("secure.test")
	zone.Bogus("_25._tcp.mx4.secure.test")
	r := &Resolver{Servers: []string{zone.Addr}, Trusted: true, Timeout: 2 * time.Second}
	ctx := context.Background()

	l, err := r.TLSA(ctx, "mx.secure.test", "25")
	if err != nil || len(l.Records) != 1 || l.Records[0].Usage != 3 || !l.RequireTLS || l.Reason != "" {
		t.Errorf("secure TLSA: %+v %v", l, err)
	}
	if l, err := r.TLSA(ctx, "mx2.secure.test.", "25"); err != nil || len(l.Records) != 0 || l.RequireTLS || !strings.Contains(l.Reason, "no TLSA records") {
		t.Errorf("secure denial: %+v %v", l, err)
	}
	if l, err := r.TLSA(ctx, "mx3.secure.test", "25"); err != nil || len(l.Records) != 0 || !l.RequireTLS || !strings.Contains(l.Reason, "usable") {
		t.Errorf("PKIX usages only: %+v %v", l, err)
	}
	if l, err := r.TLSA(ctx, "mx4.secure.test", "25"); !errors.Is(err, ErrLookup) || !strings.Contains(err.Error(), "SERVFAIL") {
		t.Errorf("bogus TLSA on a secure host: %+v %v, want ErrLookup", l, err)
	}
	if l, err := r.TLSA(ctx, "mx.plain.test", "25"); err != nil || len(l.Records) != 0 || l.RequireTLS || !strings.Contains(l.Reason, "not DNSSEC-signed") {
		t.Errorf("insecure addresses: %+v %v", l, err)
	}
	if zone.Asked("_25._tcp.mx.plain.test. TLSA") {
		t.Error("TLSA records asked for a host whose addresses are insecure")
	}
	untrusted := &Resolver{Servers: []string{zone.Addr}, Timeout: 2 * time.Second}
	if l, err := untrusted.TLSA(ctx, "mx.secure.test", "25"); err != nil || len(l.Records) != 0 || l.RequireTLS || !strings.Contains(l.Reason, "dns_trusted") {
		t.Errorf("untrusted resolver: %+v %v", l, err)
	}
	if l, _ := r.TLSA(ctx, "127.0.0.1", "25"); len(l.Records) != 0 || l.RequireTLS {
		t.Errorf("address literal: %+v", l)
	}
	silent := dnstest.Start(t)
	silent.Silence("mx.secure.test")
	quiet := &Resolver{Servers: []string{silent.Addr}, Trusted: true, Timeout: 200 * time.Millisecond}
	if _, err := quiet.TLSA(ctx, "mx.secure.test", "25"); !errors.Is(err, ErrLookup) {
		t.Errorf("no answer: %v, want ErrLookup", err)
	}
}

// Verify: DANE-EE ignores names and dates; DANE-TA needs the chain and
// the name; a record of another certificate matches nothing.
func TestVerify(t *testing.T) {
	ca := testcert.NewCA(t)
	leaf := ca.Issue(t, "mx.example.test")
	chain := leaf.TLS.Leaf
	caCert := ca.Cert
	now := time.Now()
	rr := func(s string) []*dnsTLSA { return parse(t, s) }

	for _, sm := range [][2]uint8{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}} {
		recs := rr("3 " + itoa(sm[0]) + " " + itoa(sm[1]) + " " + Record(chain, sm[0], sm[1]))
		if err := Verify(recs, "another.name", leafChain(leaf), now.Add(1000*time.Hour)); err != nil {
			t.Errorf("DANE-EE %d %d: %v", sm[0], sm[1], err)
		}
	}
	ta := rr("2 0 1 " + Record(caCert, 0, 1))
	if err := Verify(ta, "mx.example.test", leafChain(leaf), now); err != nil {
		t.Errorf("DANE-TA: %v", err)
	}
	if err := Verify(ta, "other.example.test", leafChain(leaf), now); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("DANE-TA, wrong name: %v", err)
	}
	expired := ca.IssueExpired(t, "mx.example.test")
	if err := Verify(ta, "mx.example.test", leafChain(expired), now); err == nil {
		t.Error("DANE-TA accepted an expired certificate")
	}
	other := testcert.New(t, "mx.example.test")
	if err := Verify(rr("3 1 1 "+Record(other.TLS.Leaf, 1, 1)), "mx.example.test", leafChain(leaf), now); err == nil || !strings.Contains(err.Error(), "no TLSA record matches") {
		t.Errorf("mismatch: %v", err)
	}
	if err := Verify(ta, "mx.example.test", leafChain(other), now); err == nil {
		t.Error("DANE-TA accepted a certificate of another issuer")
	}
}
