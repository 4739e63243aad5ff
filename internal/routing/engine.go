package routing

import (
	"sort"
	"strings"
	"sync"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/addrspace"
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/topology"
)

// Engine routes recipients for one organization and directory. It is
// immutable once built and safe for concurrent use; build a new one when
// the organization changes.
type Engine struct {
	org  *config.Org
	dir  directory.Directory
	topo *topology.Graph

	conns  []*conn
	byType map[string][]spaceRef // address type -> every space of that type
	exact  map[string][]spaceRef // SMTP exact domain -> spaces
	suffix map[string][]spaceRef // SMTP "*.suffix" -> spaces, keyed by suffix
	star   []spaceRef            // SMTP "*"

	serverIdx map[string]int // server name -> index in org.Servers
	tables    tables         // per-server connector tables, built on first use

	candOnce sync.Once                    // AddressTypes' candidate addresses, gathered on first use
	cands    map[string][]address.Address // by type

	atMu    sync.Mutex
	atCache map[string]cachedTypes // by site name

	hubs hubLists // equivalent hubs (hubs.go)
}

// conn is a send connector with what routing needs precomputed.
type conn struct {
	*config.SendConnector
	site    string // site of the source servers (the first, for unscoped ones spanning sites)
	siteIdx int    // its index in the topology, -1 if none
	srcs    []source
	bySite  map[int]*siteSources // source servers by topology index of their site (hubs.go)
	folded  string               // lower-case name, for ordering
}

type source struct {
	name string
	site int // topology index of its site
}

// before orders connectors by name: case-insensitive, then case-sensitive,
// so the choice never depends on the file's order.
func (c *conn) before(d *conn) bool {
	if c.folded != d.folded {
		return c.folded < d.folded
	}
	return c.Name < d.Name
}

type spaceRef struct {
	conn  int
	space *addrspace.Space
}

// New builds an engine.
func New(org *config.Org, dir directory.Directory) *Engine {
	e := &Engine{
		org:    org,
		dir:    dir,
		topo:   topology.New(org),
		byType: map[string][]spaceRef{},
		exact:  map[string][]spaceRef{},
		suffix: map[string][]spaceRef{},
	}
	for i, sc := range org.SendConnectors {
		c := &conn{SendConnector: sc, siteIdx: -1, folded: strings.ToLower(sc.Name)}
		for _, name := range sc.SourceServers {
			s := org.Server(name)
			if s == nil {
				continue
			}
			idx, ok := e.topo.Index(s.Site)
			if !ok {
				continue
			}
			if c.site == "" {
				c.site, c.siteIdx = s.Site, idx
			}
			c.srcs = append(c.srcs, source{name: s.Name, site: idx})
		}
		e.conns = append(e.conns, c)
		for j := range sc.AddressSpaces {
			sp := &sc.AddressSpaces[j]
			ref := spaceRef{conn: i, space: sp}
			e.byType[sp.Type] = append(e.byType[sp.Type], ref)
			if sp.Type != "SMTP" {
				continue
			}
			p := strings.ToLower(sp.Pattern)
			switch {
			case p == "*":
				e.star = append(e.star, ref)
			case strings.HasPrefix(p, "*."):
				e.suffix[p[2:]] = append(e.suffix[p[2:]], ref)
			default:
				e.exact[p] = append(e.exact[p], ref)
			}
		}
	}
	// Cheapest spaces first, so that selection finds a good candidate early
	// and skips the rest cheaply.
	for _, m := range []map[string][]spaceRef{e.byType, e.exact, e.suffix} {
		for _, refs := range m {
			sortByCost(refs)
		}
	}
	sortByCost(e.star)
	e.initTables()
	e.initHubs()
	return e
}

func sortByCost(refs []spaceRef) {
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].space.Cost < refs[j].space.Cost })
}

// Org returns the organization the engine routes for.
func (e *Engine) Org() *config.Org { return e.org }

// Directory returns the directory the engine resolves against.
func (e *Engine) Directory() directory.Directory { return e.dir }

// Topology returns the site graph.
func (e *Engine) Topology() *topology.Graph { return e.topo }

// spaces calls f for every address space that may match a (the index
// narrows SMTP spaces by domain; Match still decides).
func (e *Engine) spaces(a address.Address, f func(spaceRef)) {
	if a.Type != "SMTP" {
		for _, r := range e.byType[a.Type] {
			f(r)
		}
		return
	}
	d := a.Domain()
	for _, r := range e.exact[d] {
		f(r)
	}
	for s := d; s != ""; {
		for _, r := range e.suffix[s] {
			f(r)
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	for _, r := range e.star {
		f(r)
	}
}
