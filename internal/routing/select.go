package routing

import (
	"fmt"
	"strings"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/addrspace"
	"github.com/waypost/waypost/internal/status"
	"github.com/waypost/waypost/internal/topology"
)

// origin is where routing happens: a server, or (for the address types of
// a site without servers) just a site.
type origin struct {
	server  string
	site    string
	siteIdx int
}

// drop says why a matching connector was not chosen. The text is only
// written for --explain, so the common path formats nothing.
type drop uint8

const (
	kept drop = iota
	dropDisabled
	dropScope
	dropNoPath
	dropSize
	dropSpecificity
	dropCost
	dropProximity
	dropName
)

// match is one connector whose address space matches the recipient.
type match struct {
	conn   int
	spec   int              // specificity of its best matching space
	space  *addrspace.Space // that space
	source string           // nearest source server
	prox   int              // 0 this server, 1 same site, 2 remote site
	path   topology.Path    // routing site -> source server's site
	cost   int              // path cost + address-space cost
	drop   drop
}

// selection is the outcome of connector selection with what --explain needs.
type selection struct {
	ms                         []match
	chosen                     int
	bestSpec, bestCost, bestPx int
	size                       int64
}

// selectConnector applies rule 2 of interfaces.md section 3 (and
// exchange-semantics.md section 2.5) and fills d. It reports false when no
// connector matches at all. Both paths order candidates by one rule,
// better; the explaining one also keeps the losers and why each lost.
func (e *Engine) selectConnector(o origin, a address.Address, size int64, explain bool, d *Decision) bool {
	if !explain {
		return e.selectFast(o, a, size, d)
	}
	var buf [16]match
	sel := selection{ms: buf[:0], chosen: -1, size: size}
	p := addrspace.Prepare(a)
	e.spaces(a, func(r spaceRef) {
		spec, ok := r.space.MatchPrepared(&p)
		if !ok {
			return
		}
		for i := range sel.ms {
			if m := &sel.ms[i]; m.conn == r.conn {
				if spec > m.spec || spec == m.spec && r.space.Cost < m.space.Cost {
					m.spec, m.space = spec, r.space
				}
				return
			}
		}
		sel.ms = append(sel.ms, match{conn: r.conn, spec: spec, space: r.space})
	})
	ms := sel.ms

	// Enabled, in scope, reachable; then the size limit.
	usable := 0
	for i := range ms {
		m := &ms[i]
		c := e.conns[m.conn]
		switch {
		case !c.Enabled:
			m.drop = dropDisabled
		case c.Scoped && c.siteIdx != o.siteIdx:
			m.drop = dropScope
		case !e.nearestSource(o, c, m):
			m.drop = dropNoPath
		default:
			usable++
			if c.MaxMessageSize > 0 && size > c.MaxMessageSize {
				m.drop = dropSize
				continue
			}
			if sel.chosen < 0 || e.better(m, &ms[sel.chosen]) {
				sel.chosen = i
			}
		}
	}
	if sel.chosen < 0 {
		d.Explain = e.explain(o, a, &sel)
		if usable > 0 {
			tooBig(d, a)
			return true
		}
		return false
	}

	// Each other candidate lost on the first criterion of better where
	// the chosen one beats it.
	best := &ms[sel.chosen]
	sel.bestSpec, sel.bestCost, sel.bestPx = best.spec, best.cost, best.prox
	for i := range ms {
		m := &ms[i]
		switch {
		case m.drop != kept || i == sel.chosen:
		case m.spec < best.spec:
			m.drop = dropSpecificity
		case m.cost > best.cost:
			m.drop = dropCost
		case m.prox > best.prox:
			m.drop = dropProximity
		default:
			m.drop = dropName
		}
	}
	e.choose(o, d, best, true)
	d.Explain = e.explain(o, a, &sel)
	return true
}

// selectFast makes the same choice as selectConnector without keeping the
// losers, using the origin's table of usable connectors (table.go). Tests
// check that both agree.
func (e *Engine) selectFast(o origin, a address.Address, size int64, d *Decision) bool {
	t := e.table(o)
	p := addrspace.Prepare(a)
	var best match
	best.conn = -1
	usable := false
	consider := func(r spaceRef, spec int) {
		v := &t.views[r.conn]
		if !v.ok {
			return
		}
		usable = true
		if c := e.conns[r.conn]; c.MaxMessageSize > 0 && size > c.MaxMessageSize {
			return
		}
		m := match{conn: r.conn, spec: spec, space: r.space, source: v.source, prox: v.prox, path: v.path, cost: v.path.Cost + r.space.Cost}
		if best.conn < 0 || e.better(&m, &best) {
			best = m
		}
	}
	if a.Type != "SMTP" {
		for _, r := range e.byType[a.Type] {
			if t.views[r.conn].ok {
				if spec, ok := r.space.MatchPrepared(&p); ok {
					consider(r, spec)
				}
			}
		}
	} else {
		dom := a.Domain()
		for _, r := range e.exact[dom] {
			if spec, ok := r.space.MatchPrepared(&p); ok {
				consider(r, spec)
			}
		}
		for s := dom; s != ""; {
			for _, r := range e.suffix[s] {
				if spec, ok := r.space.MatchPrepared(&p); ok {
					consider(r, spec)
				}
			}
			i := strings.IndexByte(s, '.')
			if i < 0 {
				break
			}
			s = s[i+1:]
		}
		// "*" is the least specific space; its spaces are sorted for this
		// origin by aggregate cost, proximity and name, so the first that
		// fits is the best of them.
		if best.conn < 0 && strings.Contains(a.Value, "@") {
			for _, i := range t.star {
				r := e.star[i]
				consider(r, 0)
				if best.conn >= 0 {
					break
				}
			}
		}
	}
	if best.conn < 0 {
		if usable {
			tooBig(d, a)
			return true
		}
		return false
	}
	e.choose(o, d, &best, false)
	return true
}

// choose records the chosen connector in d, with its equivalent source
// servers and the hubs o hands the recipient to (hubs.go).
func (e *Engine) choose(o origin, d *Decision, m *match, explain bool) {
	c := e.conns[m.conn]
	d.Outcome = OutcomeConnector
	d.Connector = c.Name
	d.SourceServer = m.source
	d.SourceServers = e.sourceServers(c, m)
	d.SitePath = m.path.Sites
	d.RelaySites = e.topo.RelayPoints(m.path)
	d.Cost = m.cost
	e.fillHubs(o, d, c, explain)
}

// better orders two usable candidates: specificity, aggregate cost,
// proximity, name.
func (e *Engine) better(m, than *match) bool {
	switch {
	case m.spec != than.spec:
		return m.spec > than.spec
	case m.cost != than.cost:
		return m.cost < than.cost
	case m.prox != than.prox:
		return m.prox < than.prox
	case m.conn == than.conn:
		return false
	}
	return e.conns[m.conn].before(e.conns[than.conn])
}

var proximity = [...]string{"the routing server itself", "in the routing server's site", "in a remote site"}

// nearestSource finds the source server of c closest to o: o's own server,
// then a server in o's site, then the server in the site with the
// least-cost path; ties go to the lowest name. It fills m and reports false
// when no source server can be reached.
func (e *Engine) nearestSource(o origin, c *conn, m *match) bool {
	found := false
	for i := range c.srcs {
		s := &c.srcs[i]
		prox := 2
		switch {
		case o.server != "" && s.name == o.server:
			prox = 0
		case s.site == o.siteIdx:
			prox = 1
		}
		p, ok := e.topo.PathAt(o.siteIdx, s.site)
		if !ok {
			continue
		}
		better := !found || prox < m.prox ||
			prox == m.prox && (p.Cost < m.path.Cost || p.Cost == m.path.Cost && nameLess(s.name, m.source))
		if better {
			found = true
			m.source, m.prox, m.path = s.name, prox, p
		}
	}
	if found && m.space != nil {
		m.cost = m.path.Cost + m.space.Cost
	}
	return found
}

// explain lists every send connector with why it was kept or dropped.
func (e *Engine) explain(o origin, a address.Address, sel *selection) []Candidate {
	out := make([]Candidate, 0, len(e.conns))
	for i, c := range e.conns {
		cand := Candidate{Connector: c.Name, Reason: fmt.Sprintf("no address space matches %s:%s", a.Type, a.Value)}
		for j := range sel.ms {
			m := &sel.ms[j]
			if m.conn != i {
				continue
			}
			cand.AddressSpace = m.space.String()
			cand.Kept = j == sel.chosen
			cand.Reason = e.reason(o, c, m, sel)
		}
		out = append(out, cand)
	}
	return out
}

func (e *Engine) reason(o origin, c *conn, m *match, sel *selection) string {
	switch m.drop {
	case dropDisabled:
		return "disabled"
	case dropScope:
		return fmt.Sprintf("scoped to site %s; the routing server is in site %s", c.site, o.site)
	case dropNoPath:
		return fmt.Sprintf("no site path from %s to the source servers' site %s", o.site, c.site)
	case dropSize:
		return fmt.Sprintf("message of %d bytes is over the connector's limit of %d", sel.size, c.MaxMessageSize)
	case dropSpecificity:
		return fmt.Sprintf("less specific than another matching address space (%d < %d)", m.spec, sel.bestSpec)
	case dropCost:
		return fmt.Sprintf("aggregate cost %d is higher than %d", m.cost, sel.bestCost)
	case dropProximity:
		return fmt.Sprintf("its nearest source server is %s; another connector's is %s", proximity[m.prox], proximity[sel.bestPx])
	case dropName:
		return fmt.Sprintf("same specificity, cost and proximity as %s, whose name sorts first", e.conns[sel.ms[sel.chosen].conn].Name)
	}
	if sel.chosen >= 0 && &sel.ms[sel.chosen] == m {
		why := fmt.Sprintf("chosen: specificity %d, aggregate cost %d (site path %d + address space %d), source server %s (%s)",
			m.spec, m.cost, m.path.Cost, m.space.Cost, m.source, proximity[m.prox])
		if srcs := e.sourceServers(c, m); len(srcs) > 1 {
			why += "; equivalent source servers, sharing the load: " + strings.Join(srcs, ", ")
		}
		return why
	}
	return "matches, but no connector could be chosen"
}

// nameLess orders server names: case-insensitive, then case-sensitive.
func nameLess(a, b string) bool {
	if !strings.EqualFold(a, b) {
		return strings.ToLower(a) < strings.ToLower(b)
	}
	return a < b
}

// tooBig records NDR 5.3.4: connectors match, but the message is over the
// size limit of every one of them.
func tooBig(d *Decision, a address.Address) {
	d.Outcome, d.Status = OutcomeNDR, status.MessageTooBig
	d.Reason = "message size exceeds the limit of every connector for " + a.Type + ":" + a.Value
}
