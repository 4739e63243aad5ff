package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/waypost/waypost/internal/status"
)

// deliverMX delivers m, for a send connector without smart hosts, to the
// mail exchangers of each recipient domain (RFC 5321 section 5.1):
// recipients are grouped by domain, one session per domain, and each
// domain's exchangers are tried in preference order. Domains are
// delivered side by side, at most MXParallel at once, and each domain by
// one session at a time: Postfix's per-destination concurrency, one
// connection per destination and message (a destination being the
// recipient domain, as Postfix's default nexthop is).
func (a *SMTP) deliverMX(ctx context.Context, m *Message) []Result {
	res := make([]Result, len(m.Recipients))
	var domains []string
	groups := map[string][]int{} // domain -> indexes of its recipients
	for i, r := range m.Recipients {
		d, err := a.domainOf(r)
		if err != nil {
			res[i] = Result{Class: Failed, Status: status.BadMailboxSyntax, Text: err.Error()}
			continue
		}
		if groups[d] == nil {
			domains = append(domains, d)
		}
		groups[d] = append(groups[d], i)
	}
	parallel := a.MXParallel
	if parallel <= 0 {
		parallel = DefaultMXParallel
	}
	next := make(chan string)
	var wg sync.WaitGroup
	for range min(parallel, len(domains)) {
		wg.Go(func() {
			for d := range next {
				a.deliverDomain(ctx, m, d, groups[d], res)
			}
		})
	}
	for _, d := range domains {
		next <- d
	}
	close(next)
	wg.Wait()
	return res
}

// DefaultMXParallel is how many recipient domains of one message are
// delivered at once when SMTP.MXParallel is not set.
const DefaultMXParallel = 10

// deliverDomain delivers m to the recipients idx of domain d, writing
// their results into res (each worker its own indexes). A panic is
// recovered and logged, and retries these recipients.
func (a *SMTP) deliverDomain(ctx context.Context, m *Message, d string, idx []int, res []Result) {
	defer func() {
		if v := recover(); v != nil {
			err := panicError(a.Log, "delivering message "+m.ID+" to the exchangers of "+d, v)
			for _, i := range idx {
				res[i] = Result{Class: Retry, Status: status.SystemTransient, Text: err.Error()}
			}
		}
	}()
	hosts, fail := a.exchangers(ctx, d)
	agent := a
	if fail == nil && a.TLS == "mta-sts" && a.MTASTS != nil {
		// RFC 8461 section 5.1: the policy of the recipient domain
		// narrows its MX hosts and sets how each session goes.
		p := a.MTASTS.Get(ctx, d)
		hosts, fail = a.applySTS(d, p, hosts)
		copied := *a
		copied.sts, agent = p, &copied
	}
	if fail != nil {
		for _, i := range idx {
			res[i] = *fail
		}
		return
	}
	sub := *m
	sub.Recipients = make([]Recipient, len(idx))
	for j, i := range idx {
		sub.Recipients[j] = m.Recipients[i]
	}
	for j, r := range agent.deliverTo(ctx, hosts, &sub) {
		res[idx[j]] = r
	}
}

// domainOf is the domain whose exchangers take r, in lower case: the
// domain of an SMTP address, or the IMCEA domain for other types.
func (a *SMTP) domainOf(r Recipient) (string, error) {
	addr := r.Address
	if !strings.EqualFold(r.Type, "SMTP") {
		if a.Encapsulation == "rfc3192" && strings.EqualFold(r.Type, "FAX") {
			return "", errors.New("RFC 3192 fax addresses need a smart host: add smart_hosts to the send connector")
		}
		addr = "x@" + a.DefaultDomain
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || at == len(addr)-1 {
		return "", fmt.Errorf("%q has no domain to look up", addr)
	}
	return strings.ToLower(addr[at+1:]), nil
}

// exchangers returns the host:port list to try for domain, or the result
// of its recipients when there is none: the MX hosts in preference order
// (net.Resolver shuffles those of equal preference, as RFC 5321 asks), the
// domain itself when it has no MX but an address (the implicit MX), an
// address literal as it is; a null MX (RFC 7505) or a domain that does not
// exist fails, and a DNS failure is retried.
func (a *SMTP) exchangers(ctx context.Context, domain string) ([]string, *Result) {
	port := a.Port
	if port == "" {
		port = "25"
	}
	if lit, ok := strings.CutPrefix(domain, "["); ok {
		ip, err := netip.ParseAddr(strings.TrimPrefix(strings.TrimSuffix(lit, "]"), "ipv6:"))
		if err != nil {
			return nil, &Result{Class: Failed, Status: status.BadMailboxSyntax, Text: fmt.Sprintf("bad address literal %s", domain)}
		}
		return []string{net.JoinHostPort(ip.String(), port)}, nil
	}
	r := a.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	fqdn := domain
	if !strings.HasSuffix(fqdn, ".") {
		fqdn += "." // absolute: no search domains
	}
	mxs, err := r.LookupMX(ctx, fqdn)
	var hosts []string
	for _, mx := range mxs {
		if mx.Host != "." {
			hosts = append(hosts, net.JoinHostPort(mx.Host, port))
		}
	}
	switch {
	case len(mxs) > 0 && len(hosts) == 0:
		return nil, &Result{Class: Failed, Status: status.NullMX, Text: domain + " does not accept mail (null MX)"}
	case len(hosts) > 0:
		return hosts, nil // a malformed record among good ones is left out
	case err != nil && !notFound(err):
		return nil, dnsRetry(domain, "MX", err)
	}
	// No MX records: the domain itself, if it has an address.
	if _, err := r.LookupNetIP(ctx, "ip", fqdn); err != nil {
		if notFound(err) {
			return nil, &Result{Class: Failed, Status: status.BadSystem, Text: domain + " does not exist: no MX and no address in DNS"}
		}
		return nil, dnsRetry(domain, "address", err)
	}
	return []string{net.JoinHostPort(fqdn, port)}, nil
}

// notFound reports whether err says the name or its records do not exist
// (NXDOMAIN or no data), rather than that DNS could not answer.
func notFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

func dnsRetry(domain, what string, err error) *Result {
	return &Result{Class: Retry, Status: status.DirectoryDown, Text: fmt.Sprintf("DNS lookup of the %s records of %s failed: %v", what, domain, err)}
}
