package routing

import (
	"errors"
	"fmt"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/status"
)

// maxDepth bounds contact chains and nested groups.
const maxDepth = 32

// Route decides where recipient goes when a message of size bytes is routed
// on server. The recipient may be written in any form of interfaces.md
// section 2. explain adds every connector considered and why.
func (e *Engine) Route(server, recipient string, size int64, explain bool) Decision {
	o, ok := e.originOf(server)
	if !ok {
		return Decision{Recipient: recipient, Outcome: OutcomeNDR, Status: status.Misconfigured, Reason: fmt.Sprintf("unknown routing server %q", server)}
	}
	return e.routeString(o, recipient, size, explain)
}

// RouteAddress is Route for a parsed address.
func (e *Engine) RouteAddress(server string, a address.Address, size int64, explain bool) Decision {
	o, ok := e.originOf(server)
	if !ok {
		return Decision{Recipient: a.String(), Type: a.Type, Address: a.Value, Outcome: OutcomeNDR, Status: status.Misconfigured, Reason: fmt.Sprintf("unknown routing server %q", server)}
	}
	r := resolver{e: e, o: o, size: size, explain: explain}
	return r.route(a.String(), a, 0)
}

func (e *Engine) originOf(server string) (origin, bool) {
	s := e.org.Server(server)
	if s == nil {
		return origin{}, false
	}
	idx, ok := e.topo.Index(s.Site)
	return origin{server: s.Name, site: s.Site, siteIdx: idx}, ok
}

// ParseRecipient parses a recipient the way routing does: IMCEA and
// RFC 3192 addresses are decapsulated at authoritative accepted domains.
func (e *Engine) ParseRecipient(s string) (address.Address, error) {
	return address.Parse(s, e.org.IsAuthoritative)
}

func (e *Engine) routeString(o origin, recipient string, size int64, explain bool) Decision {
	a, err := e.ParseRecipient(recipient)
	if err != nil {
		d := Decision{Recipient: recipient, Outcome: OutcomeNDR, Status: status.BadMailboxSyntax, Reason: "bad address syntax: " + err.Error()}
		if errors.Is(err, address.ErrRefusedEncapsulation) {
			d.Status, d.Reason = status.BadAddress, "RESOLVER.ADR.Encapsulated; "+err.Error()
		}
		return d
	}
	r := resolver{e: e, o: o, size: size, explain: explain}
	return r.route(recipient, a, 0)
}

// resolver routes one recipient, carrying what expansion needs.
type resolver struct {
	e       *Engine
	o       origin
	size    int64
	explain bool
	chain   map[any]bool // contacts on the current chain (Entry.Ident), to break contact loops
	reached map[any]bool // entries already reached by the current group expansion
}

func (r *resolver) route(written string, a address.Address, depth int) Decision {
	d := Decision{Recipient: written, Type: a.Type, Address: a.Value}
	if depth > maxDepth {
		d.Outcome, d.Status, d.Reason = OutcomeNDR, status.Loop, "RESOLVER.FWD.Loop; contacts or groups nest deeper than 32 levels"
		return d
	}
	ent, err := r.e.dir.Find(a)
	if err != nil {
		directoryDown(&d, err)
		return d
	}
	if ent != nil {
		r.entry(&d, ent, depth)
		return d
	}
	if a.Type == "SMTP" && r.e.org.IsAuthoritative(a.Domain()) {
		d.Outcome, d.Status, d.Reason = OutcomeNDR, status.BadMailbox, "RESOLVER.ADR.RecipNotFound; not found"
		return d
	}
	if a.Type == "EX" {
		d.Outcome, d.Status, d.Reason = OutcomeNDR, status.BadMailbox, "RESOLVER.ADR.ExRecipNotFound; not found"
		return d
	}
	if r.e.selectConnector(r.o, a, r.size, r.explain, &d) {
		return d
	}
	if a.Type == "SMTP" {
		d.Outcome, d.Status = OutcomeUnreachable, status.Expired
		d.Reason = "no connector for " + a.Domain() + " in scope for " + r.o.name() + "; kept in the unreachable queue until it expires"
		return d
	}
	d.Outcome, d.Status = OutcomeNDR, status.Unroutable
	d.Reason = fmt.Sprintf("no connector for address type %s in scope for %s", a.Type, r.o.name())
	return d
}

func (o origin) name() string {
	if o.server != "" {
		return o.server
	}
	return "site " + o.site
}

// entry routes a recipient that resolved to a directory entry.
func (r *resolver) entry(d *Decision, ent *directory.Entry, depth int) {
	switch ent.Kind {
	case directory.Mailbox:
		d.Mailbox, d.Server = ent.Name, ent.Server
		home := r.e.org.Server(ent.Server)
		if home == nil {
			d.Outcome, d.Status, d.Reason = OutcomeNDR, status.BadMailbox, fmt.Sprintf("RESOLVER.ADR.RecipNotFound; mailbox %q has no valid home server", ent.Name)
			return
		}
		p, ok := r.e.topo.Path(r.o.site, home.Site)
		if !ok {
			d.Outcome, d.Status = OutcomeUnreachable, status.Expired
			d.Reason = fmt.Sprintf("no site path from %s to %s, the site of %s", r.o.site, home.Site, home.Name)
			return
		}
		d.Outcome, d.SitePath, d.RelaySites = OutcomeMailbox, p.Sites, r.e.topo.RelayPoints(p)
		r.e.fillHubs(r.o, d, nil, r.explain)
	case directory.Contact:
		d.Contact = ent.Name
		if ent.Target == nil {
			d.Outcome, d.Status, d.Reason = OutcomeNDR, status.MailboxOther, fmt.Sprintf("RESOLVER.CON.NoTarget; contact %q has no target address", ent.Name)
			return
		}
		d.Target = ent.Target.String()
		if r.chain == nil {
			r.chain = map[any]bool{}
		}
		id := ent.Ident()
		if r.chain[id] {
			d.Outcome, d.Status, d.Reason = OutcomeNDR, status.Loop, fmt.Sprintf("RESOLVER.FWD.Loop; contact %q leads back to itself", ent.Name)
			return
		}
		r.chain[id] = true
		t := r.route(d.Target, *ent.Target, depth+1)
		delete(r.chain, id)
		keep := *d
		*d = t
		d.Recipient, d.Type, d.Address, d.Contact, d.Target = keep.Recipient, keep.Type, keep.Address, keep.Contact, keep.Target
	case directory.Group:
		d.Outcome = OutcomeExpanded
		if r.reached == nil {
			r.reached = map[any]bool{}
		}
		r.reached[ent.Ident()] = true
		d.Members = []Decision{}
		r.expand(d, ent, depth)
	}
}

// expand adds every member of group g to d.Members, flattening nested
// groups; an entry already reached in this expansion is skipped (a harmless
// loop: each member gets the message once, exchange-semantics.md 8.9).
func (r *resolver) expand(d *Decision, g *directory.Entry, depth int) {
	for _, m := range g.Members {
		a, err := r.e.ParseRecipient(m)
		if err != nil {
			d.Members = append(d.Members, Decision{Recipient: m, Outcome: OutcomeNDR, Status: status.BadMailboxSyntax, Reason: "bad member address: " + err.Error()})
			continue
		}
		ent, err := r.e.dir.Find(a)
		if err != nil {
			// Routed on its own later: the member waits (4.4.3) in the
			// queue while the rest of the group goes on.
			md := Decision{Recipient: m, Type: a.Type, Address: a.Value}
			directoryDown(&md, err)
			d.Members = append(d.Members, md)
			continue
		}
		if ent != nil {
			id := ent.Ident()
			if r.reached[id] {
				continue
			}
			r.reached[id] = true
			if ent.Kind == directory.Group {
				if depth+1 > maxDepth {
					d.Members = append(d.Members, Decision{Recipient: m, Type: a.Type, Address: a.Value, Outcome: OutcomeNDR, Status: status.Loop, Reason: "RESOLVER.FWD.Loop; groups nest deeper than 32 levels"})
					continue
				}
				r.expand(d, ent, depth+1)
				continue
			}
		}
		d.Members = append(d.Members, r.route(m, a, depth+1))
	}
}

// directoryDown makes d the transient outcome of a directory outage
// (status.DirectoryDown): it waits in the queue, and RCPT answers 451.
func directoryDown(d *Decision, err error) {
	d.Outcome, d.Status = OutcomeUnreachable, status.DirectoryDown
	d.Reason = "RESOLVER.ADR.DirectoryUnavailable; the directory could not be asked (" + err.Error() + "); kept queued and resolved again later"
}

// DirectoryDown reports whether d waits for the directory to come back.
func (d *Decision) DirectoryDown() bool {
	return d.Outcome == OutcomeUnreachable && d.Status == status.DirectoryDown
}
