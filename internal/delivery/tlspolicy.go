package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/waypost/waypost/internal/dane"
	"github.com/waypost/waypost/internal/mtasts"
	"github.com/waypost/waypost/internal/status"
)

// tlsPolicy is how STARTTLS goes with one host, as the agent's TLS mode
// and what DNS and the recipient domain publish say:
//
//   - "none": never; "opportunistic": when offered, unverified (RFC
//     7435); "required": always, verified (the connector's own demand;
//     a failure is 4.4.1 as any failed connection).
//   - "dane" (RFC 7672): the host's TLSA records (package dane). Usable
//     records make STARTTLS and a matching certificate required; a
//     secure set without usable ones makes TLS required, unverified; no
//     secure records leave it opportunistic, and a failed lookup on a
//     secure name makes the mail wait.
//   - "mta-sts" (RFC 8461, MX delivery only): the recipient domain's
//     policy (package mtasts). In enforce mode only MX hosts that match
//     its patterns are tried (deliverDomain), each over STARTTLS with a
//     certificate valid for the MX name that chains to a trusted root
//     (section 4.2); in testing mode delivery goes on as without a policy
//     and failures are logged (section 5); mode none, or no policy:
//     opportunistic.
//
// A strict policy that is not met makes the mail wait with 4.7.5 and the
// reason, and the next host is tried.
type tlsPolicy struct {
	name    string      // Result.TLS
	none    bool        // no STARTTLS
	require bool        // STARTTLS even when not offered
	strict  bool        // a failure is a policyError (4.7.5), not a connection failure
	config  *tls.Config // nil: tlsConfig(host)
}

// why names the policy in an error: "DANE (TLSA records at ...)".
func (p tlsPolicy) why() string {
	switch {
	case strings.HasPrefix(p.name, "dane"):
		return "DANE (RFC 7672)"
	case strings.HasPrefix(p.name, "mta-sts"):
		return "the domain's MTA-STS policy (RFC 8461, mode enforce)"
	}
	return "the connector"
}

// policyError is a host that a strict TLS policy rules out.
type policyError struct {
	policy string
	text   string
}

func (e *policyError) Error() string { return e.text }

// result is the retry of every recipient: 4.7.5 and the reason.
func (e *policyError) result(host string) *Result {
	return &Result{Class: Retry, Status: status.CryptoTransient, RemoteHost: host, TLS: e.policy,
		Text: e.text + "; the mail waits for authenticated TLS"}
}

// policy returns the TLS policy of a session with host (host:port).
func (a *SMTP) policy(ctx context.Context, host string) (tlsPolicy, *policyError) {
	name, port, _ := net.SplitHostPort(host)
	switch {
	case a.Hub != nil:
		return hubPolicy, nil
	case a.TLS == "none":
		return tlsPolicy{name: "none", none: true}, nil
	case a.TLS == "required":
		return tlsPolicy{name: "required", require: true}, nil
	case a.TLS == "dane":
		return a.danePolicy(ctx, name, port)
	case a.TLS == "mta-sts":
		return a.stsPolicy(name), nil
	}
	return tlsPolicy{name: "opportunistic"}, nil
}

// danePolicy looks up the TLSA records of name on port.
func (a *SMTP) danePolicy(ctx context.Context, name, port string) (tlsPolicy, *policyError) {
	if a.DANE == nil {
		return tlsPolicy{name: "opportunistic: no DNS resolvers for DANE"}, nil
	}
	l, err := a.DANE.TLSA(ctx, name, port)
	switch {
	case err != nil:
		return tlsPolicy{}, &policyError{policy: "dane", text: err.Error()}
	case len(l.Records) > 0:
		return tlsPolicy{name: "dane", require: true, strict: true, config: dane.Config(l, name)}, nil
	case l.RequireTLS:
		return tlsPolicy{name: "dane: encrypted, not authenticated: " + l.Reason, require: true, strict: true,
			config: &tls.Config{ServerName: strings.TrimSuffix(name, "."), InsecureSkipVerify: true}}, nil
	}
	return tlsPolicy{name: "opportunistic: " + l.Reason}, nil
}

// stsPolicy is the session policy with MX host name under the recipient
// domain's MTA-STS policy (a.sts, set by deliverDomain).
func (a *SMTP) stsPolicy(name string) tlsPolicy {
	p := a.sts
	if p == nil || p.Mode == mtasts.None {
		return tlsPolicy{name: "opportunistic: no MTA-STS policy"}
	}
	name = strings.TrimSuffix(name, ".")
	cfg := &tls.Config{ServerName: name, RootCAs: a.roots(), MinVersion: tls.VersionTLS12}
	if p.Mode == mtasts.Enforce {
		return tlsPolicy{name: "mta-sts enforce", require: true, strict: true, config: cfg}
	}
	// Testing: check as enforce would, log what fails, deliver anyway.
	log, domain := a.logger(), p.Domain
	return tlsPolicy{name: "mta-sts testing", config: &tls.Config{ServerName: name, InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if err := verifyChain(cs, cfg); err != nil {
				log.Warn("MTA-STS (mode testing): the MX certificate would fail in enforce mode", "domain", domain, "mx", name, "error", err)
			}
			return nil
		}}}
}

// roots are the certificates an MTA-STS host must chain to: the system's,
// or TLSConfig's in tests.
func (a *SMTP) roots() *x509.CertPool {
	if a.TLSConfig != nil {
		return a.TLSConfig.RootCAs
	}
	return nil
}

// verifyChain verifies the chain of cs as crypto/tls would with cfg.
func verifyChain(cs tls.ConnectionState, cfg *tls.Config) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: cfg.ServerName, Roots: cfg.RootCAs, Intermediates: inter})
	return err
}

// applySTS narrows the MX hosts of domain to those its MTA-STS policy
// allows (RFC 8461 section 4.1): in enforce mode, only matching ones, and
// when none matches every recipient waits (4.7.5); in testing mode every
// host, and the ones that would fail are logged.
func (a *SMTP) applySTS(domain string, p *mtasts.Policy, hosts []string) ([]string, *Result) {
	if p == nil || p.Mode == mtasts.None {
		return hosts, nil
	}
	var keep, off []string
	for _, h := range hosts {
		name, _, _ := net.SplitHostPort(h)
		if p.Match(name) {
			keep = append(keep, h)
		} else {
			off = append(off, strings.TrimSuffix(name, "."))
		}
	}
	if len(off) == 0 {
		return hosts, nil
	}
	if p.Mode == mtasts.Testing {
		a.logger().Warn("MTA-STS (mode testing): MX hosts that enforce mode would skip", "domain", domain, "mx", off, "patterns", p.MX)
		return hosts, nil
	}
	if len(keep) == 0 {
		return nil, &Result{Class: Retry, Status: status.CryptoTransient, TLS: "mta-sts enforce",
			Text: fmt.Sprintf("the MTA-STS policy of %s (mode enforce, id %s) allows MX hosts %s; none of its MX hosts (%s) matches; the mail waits",
				domain, p.ID, strings.Join(p.MX, ", "), strings.Join(off, ", "))}
	}
	return keep, nil
}

func (a *SMTP) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}
