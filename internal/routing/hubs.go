package routing

import (
	"fmt"
	"sort"
	"strings"
)

// Equivalent hubs (docs/design/interfaces.md section 3, rule 5;
// exchange-semantics.md section 2.6: Exchange 2010 load balances across
// the hub transport servers of the next site and across the source
// servers of a connector in the nearest site).
// Routing lists every server that is as good as its single choice; the
// scheduler picks one per message (internal/scheduler, balance.go).

// hubLists is what the engine precomputes for the lists: read-only slices
// shared by every decision, so that routing allocates nothing for them.
type hubLists struct {
	siteHubs [][]string          // by topology index: servers with a relay listener, lowest name first
	one      map[string][]string // server name -> a list of that server alone
	site     map[string]int      // server name -> topology index of its site
	sites    map[string]int      // site name, as the topology writes it -> its index
}

// siteSources are a connector's source servers in one site, lowest name
// first: all of them, and those with a relay listener.
type siteSources struct {
	all   []string
	relay []string
}

func (e *Engine) initHubs() {
	e.hubs.siteHubs = make([][]string, len(e.topo.Sites()))
	e.hubs.one = make(map[string][]string, len(e.org.Servers))
	e.hubs.site = make(map[string]int, len(e.org.Servers))
	e.hubs.sites = make(map[string]int, len(e.topo.Sites()))
	for i, name := range e.topo.Sites() {
		e.hubs.sites[name] = i
	}
	for _, s := range e.org.Servers {
		e.hubs.one[s.Name] = []string{s.Name}
		idx, ok := e.topo.Index(s.Site)
		if !ok {
			continue
		}
		e.hubs.site[s.Name] = idx
		if s.Relay != "" {
			e.hubs.siteHubs[idx] = append(e.hubs.siteHubs[idx], s.Name)
		}
	}
	for _, l := range e.hubs.siteHubs {
		sortNames(l)
	}
	for _, c := range e.conns {
		c.bySite = map[int]*siteSources{}
		for _, src := range c.srcs {
			ss := c.bySite[src.site]
			if ss == nil {
				ss = &siteSources{}
				c.bySite[src.site] = ss
			}
			ss.all = append(ss.all, src.name)
			if s := e.org.Server(src.name); s != nil && s.Relay != "" {
				ss.relay = append(ss.relay, src.name)
			}
		}
		for _, ss := range c.bySite {
			sortNames(ss.all)
			sortNames(ss.relay)
		}
	}
}

func sortNames(l []string) { sort.Slice(l, func(i, j int) bool { return nameLess(l[i], l[j]) }) }

// sourceServers lists the source servers of c as good as m.source, when
// there are several: every source server in the site of m.source (same
// proximity, same path), lowest name first, which puts m.source first.
// The routing server itself, when it is one, has no equal; nil then, and
// when m.source is alone in its site.
func (e *Engine) sourceServers(c *conn, m *match) []string {
	if m.prox == 0 {
		return nil
	}
	site, ok := e.siteOf(m.source)
	if !ok || c.bySite[site] == nil || len(c.bySite[site].all) < 2 {
		return nil
	}
	return c.bySite[site].all
}

// siteOf is the topology index of the site of server, named as in the
// organization (as match.source and Decision.SourceServer are).
func (e *Engine) siteOf(server string) (int, bool) {
	idx, ok := e.hubs.site[server]
	return idx, ok
}

// fillHubs sets d.Hubs for a mailbox or connector decision made at o: the
// servers of the first hub site on the path other than o's own that have a
// relay listener; else the destination: the mailbox's home server, or the
// connector's equivalent source servers that have a relay listener (the
// first of them alone when none has). Nothing when o delivers itself.
func (e *Engine) fillHubs(o origin, d *Decision, c *conn, explain bool) {
	if o.server == "" {
		return
	}
	var dest []string
	switch d.Outcome {
	case OutcomeMailbox:
		if strings.EqualFold(d.Server, o.server) {
			return
		}
		dest = e.hubs.one[d.Server]
		if dest == nil {
			if s := e.org.Server(d.Server); s != nil {
				dest = e.hubs.one[s.Name]
			}
		}
	case OutcomeConnector:
		if strings.EqualFold(d.SourceServer, o.server) {
			return
		}
		dest = e.hubs.one[d.SourceServer]
		if site, ok := e.siteOf(d.SourceServer); ok && c != nil && c.bySite[site] != nil && len(c.bySite[site].relay) > 0 {
			dest = c.bySite[site].relay
		}
	default:
		return
	}
	d.Hubs = dest
	for _, site := range d.RelaySites {
		if strings.EqualFold(site, o.site) {
			continue // already here
		}
		if idx, ok := e.hubs.sites[site]; ok && len(e.hubs.siteHubs[idx]) > 0 {
			d.Hubs = e.hubs.siteHubs[idx]
			if explain {
				d.HubsReason = fmt.Sprintf("through hub site %s: its servers with a relay listener, %s", site, hubChoice(d.Hubs))
			}
			return
		}
	}
	if !explain || len(d.Hubs) == 0 {
		return
	}
	switch {
	case e.org.Server(d.Hubs[0]) != nil && e.org.Server(d.Hubs[0]).Relay == "":
		d.HubsReason = fmt.Sprintf("straight to %s, which has no relay listener (nor has an equivalent server): the mail waits until it has one", d.Hubs[0])
	case d.Outcome == OutcomeConnector:
		d.HubsReason = fmt.Sprintf("straight to the connector's source servers in site %s with a relay listener, %s", d.SitePath[len(d.SitePath)-1], hubChoice(d.Hubs))
	default:
		d.HubsReason = "straight to the mailbox's home server, " + hubChoice(d.Hubs)
	}
}

// hubChoice says how the scheduler picks among hubs, for --explain.
func hubChoice(hubs []string) string {
	if len(hubs) == 1 {
		return hubs[0] + " (the only one)"
	}
	return strings.Join(hubs, ", ") + " (the hub takes, per message, the one with the fewest messages queued or in flight to it, in turn on ties, and skips one that did not answer within the organization's glitch_retry_interval; " + hubs[0] + " when all are equal)"
}
