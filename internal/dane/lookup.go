// Package dane finds and applies the TLSA records of an SMTP server, for
// the send connectors with tls = "dane": SMTP security via opportunistic
// DANE TLS (RFC 7672), with TLSA records as RFC 6698 defines them and RFC
// 7671 updates them.
//
// DNSSEC is not validated here: the hub's resolvers do it, and an answer
// counts as secure only when it carries the AD bit (RFC 4035 section
// 3.2.3) and the administrator declared those resolvers validating and
// reached over a trusted path ([[server]] dns_trusted = true; RFC 7672
// section 2.1.1 and RFC 6698 section 4.1). Without that declaration no
// answer is secure, and delivery is opportunistic as without DANE.
//
// The order of RFC 7672 section 2.2: the server's address records first;
// when they are insecure, no TLSA lookup (the server has no DANE). When
// they are secure, the TLSA records of _port._tcp.host: a lookup failure
// on that secure name is no reason to send in clear, so the mail waits;
// secure denial of existence, or an insecure answer, means no DANE. A
// secure TLSA set with usable records (DANE-TA(2), DANE-EE(3); selectors
// 0 and 1; matching types 0, 1 and 2) makes STARTTLS and a matching
// certificate required (verify.go); a secure set with none usable (PKIX
// usages 0 and 1, which RFC 7672 section 3.1.3 has SMTP clients not use)
// makes TLS required, without authentication (RFC 7672 section 2.2).
package dane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Resolver asks the hub's resolvers for address and TLSA records.
type Resolver struct {
	// Servers are the resolvers to ask, ip:port, in turn; none: those
	// of /etc/resolv.conf.
	Servers []string
	// Trusted says the administrator declared them DNSSEC-validating
	// ([[server]] dns_trusted): only then is an AD bit believed.
	Trusted bool
	// Timeout is the time one question may take (default 5 s).
	Timeout time.Duration
}

// Lookup is what DNS says of one server's DANE.
type Lookup struct {
	// Records are the usable TLSA records: with some, STARTTLS and a
	// certificate that one of them matches are required.
	Records []*dns.TLSA
	// RequireTLS is true when the TLSA set is secure: TLS is required
	// even when no record is usable (RFC 7672 section 2.2).
	RequireTLS bool
	// Name is the TLSA owner name asked, e.g. "_25._tcp.mx.example.".
	Name string
	// Reason says why there is no DANE authentication, for the log and
	// "waypost queue show": "" when Records is not empty.
	Reason string
}

// ErrLookup wraps a failed lookup on a secure name: the mail must wait
// (RFC 7672 section 2.2: a TLSA lookup that fails for a host whose
// address records are secure is not the absence of TLSA records).
var ErrLookup = errors.New("DANE lookup failed")

// TLSA looks up the DANE records of the SMTP server host (a DNS name, not
// an address) on port. An error wraps ErrLookup.
func (r *Resolver) TLSA(ctx context.Context, host, port string) (Lookup, error) {
	host = strings.TrimSuffix(host, ".")
	name := dns.Fqdn("_" + port + "._tcp." + host)
	l := Lookup{Name: name}
	if _, err := netip.ParseAddr(host); err == nil || host == "" {
		l.Reason = "the server is named by an address, which has no TLSA records"
		return l, nil
	}
	if !r.Trusted {
		l.Reason = "the DNS resolvers are not declared validating (dns_trusted), so no answer is DNSSEC-secure"
		return l, nil
	}
	secure, err := r.addressSecure(ctx, dns.Fqdn(host))
	if err != nil {
		return l, err
	}
	if !secure {
		l.Reason = "the addresses of " + host + " are not DNSSEC-signed"
		return l, nil
	}
	resp, err := r.ask(ctx, name, dns.TypeTLSA)
	if err != nil {
		return l, fmt.Errorf("%w: TLSA records of %s: %v", ErrLookup, name, err)
	}
	switch {
	case resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError:
		// SERVFAIL is what a validating resolver answers to a bogus
		// answer: the records may exist and be under attack.
		return l, fmt.Errorf("%w: TLSA records of %s: the resolver answered %s", ErrLookup, name, dns.RcodeToString[resp.Rcode])
	case !resp.AuthenticatedData:
		l.Reason = "the TLSA answer for " + name + " is not DNSSEC-secure"
		return l, nil
	}
	l.RequireTLS = true
	var all int
	for _, rr := range resp.Answer {
		t, ok := rr.(*dns.TLSA)
		if !ok || !strings.EqualFold(t.Hdr.Name, name) {
			continue
		}
		all++
		if Usable(t) {
			l.Records = append(l.Records, t)
		}
	}
	switch {
	case all == 0:
		l.RequireTLS = false
		l.Reason = "no TLSA records at " + name + " (DNSSEC-secure denial)"
	case len(l.Records) == 0:
		l.Reason = fmt.Sprintf("none of the %d TLSA records at %s is usable for SMTP (RFC 7672 section 3.1.3): TLS without authentication", all, name)
	}
	return l, nil
}

// Usable reports whether a TLSA record is one an SMTP client uses (RFC
// 7672 section 3.1): usage DANE-TA(2) or DANE-EE(3), selector Cert(0) or
// SPKI(1), matching type Full(0), SHA2-256(1) or SHA2-512(2).
func Usable(t *dns.TLSA) bool {
	return (t.Usage == 2 || t.Usage == 3) && t.Selector <= 1 && t.MatchingType <= 2
}

// addressSecure asks for the A records of host (then AAAA when there is
// no A) and says whether the answer was DNSSEC-secure. A name with no
// address at all is left to the connection to report.
func (r *Resolver) addressSecure(ctx context.Context, host string) (bool, error) {
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		resp, err := r.ask(ctx, host, qt)
		if err != nil {
			return false, fmt.Errorf("%w: the addresses of %s: %v", ErrLookup, strings.TrimSuffix(host, "."), err)
		}
		if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
			return false, fmt.Errorf("%w: the addresses of %s: the resolver answered %s", ErrLookup, strings.TrimSuffix(host, "."), dns.RcodeToString[resp.Rcode])
		}
		if len(resp.Answer) > 0 || resp.Rcode == dns.RcodeNameError {
			return resp.AuthenticatedData, nil
		}
	}
	return false, nil
}

// ask sends one question with the DO bit (RFC 3225), so that a
// validating resolver sets AD on what it validated, to each server in
// turn until one answers; a truncated answer is asked again over TCP.
func (r *Resolver) ask(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	servers := r.Servers
	if len(servers) == 0 {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("no dns in the organization file, and /etc/resolv.conf: %v", err)
		}
		for _, s := range cc.Servers {
			servers = append(servers, net.JoinHostPort(s, cc.Port))
		}
	}
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	q.SetEdns0(1232, true)
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	var last error = errors.New("no resolver to ask")
	for _, s := range servers {
		c := &dns.Client{Net: "udp", Timeout: timeout}
		resp, _, err := c.ExchangeContext(ctx, q, s)
		if err == nil && resp.Truncated {
			c.Net = "tcp"
			resp, _, err = c.ExchangeContext(ctx, q, s)
		}
		if err == nil {
			return resp, nil
		}
		last = fmt.Errorf("%s: %v", s, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}
