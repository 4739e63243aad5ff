package hub

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/dane"
	"github.com/waypost/waypost/internal/dkim"
)

// newResolver returns the DNS resolver of a server with [[server]] dns
// set: Go's own resolver, asking those servers instead of resolv.conf's.
// Each query attempt takes the next server in turn, so that when one does
// not answer, the resolver's retry (resolv.conf's attempts, 2 by default)
// asks the next. Without dns: nil, the system's resolver.
func newResolver(servers []string) *net.Resolver {
	if len(servers) == 0 {
		return nil
	}
	var next atomic.Uint32
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		addr := servers[int(next.Add(1)-1)%len(servers)]
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// UseDNS makes the hub ask servers instead of its [[server]] dns (or the
// system's resolvers), for as long as it runs: waypost serve --dns. Call
// it before Run: the SMTP agents made from then on and the receive
// connectors' sender checks (opened by Open already) ask them.
func (h *Hub) UseDNS(servers []string) {
	h.resolver, h.dns = newResolver(servers), servers
	h.sts.Resolver = h.resolver
	for _, l := range h.recv {
		l.SetResolver(h.resolver)
	}
}

// daneResolver asks the hub's resolvers for TLSA records (tls = "dane",
// RFC 7672), believing their AD bit only when the organization in force
// declares them validating ([[server]] dns_trusted). With waypost serve
// --dns, the flag's resolvers are the ones declared so.
func (h *Hub) daneResolver(org *config.Org) *dane.Resolver {
	trusted := false
	if s := org.Server(h.server.Name); s != nil {
		trusted = s.DNSTrusted
	}
	return &dane.Resolver{Servers: h.dns, Trusted: trusted}
}

// signerCache is the DKIM signer of the organization in force: the keys
// are read at start and again after each reload that passed the checks
// (config.CheckFiles read them already).
type signerCache struct {
	org    *config.Org
	signer *dkim.Signer
}

// dkimSigner returns the signer for org's keys, reading them once per
// organization. A key that cannot be read any more (removed since the
// check) is logged, and mail goes unsigned rather than stuck.
func (h *Hub) dkimSigner(org *config.Org) *dkim.Signer {
	if c := h.signers.Load(); c != nil && c.org == org {
		return c.signer
	}
	keys, err := config.DKIMKeys(org)
	if err != nil {
		h.log.Error("DKIM signing is off until the key is fixed and the organization reloaded", "error", err)
	}
	c := &signerCache{org: org, signer: dkim.NewSigner(keys)}
	h.signers.Store(c)
	return c.signer
}
