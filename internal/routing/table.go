package routing

import (
	"sort"
	"sync"

	"github.com/waypost/waypost/internal/topology"
)

// table is what one origin knows of every send connector before any
// recipient is seen: whether it may use it (enabled, in scope, a source
// server reachable) and through which source server, at what path cost.
// Tables are built on first use, once per server.
type table struct {
	views []view // by connector index
	star  []int  // indexes into Engine.star of usable spaces, best first
}

type view struct {
	ok     bool
	source string
	prox   int
	path   topology.Path
}

type tables struct {
	once []sync.Once
	t    []*table
}

func (e *Engine) initTables() {
	e.tables.once = make([]sync.Once, len(e.org.Servers))
	e.tables.t = make([]*table, len(e.org.Servers))
	e.serverIdx = make(map[string]int, len(e.org.Servers))
	for i, s := range e.org.Servers {
		e.serverIdx[s.Name] = i
	}
}

// table returns o's table, building it on first use.
func (e *Engine) table(o origin) *table {
	i, ok := e.serverIdx[o.server]
	if !ok {
		return e.buildTable(o) // a site without servers: address types only
	}
	e.tables.once[i].Do(func() { e.tables.t[i] = e.buildTable(o) })
	return e.tables.t[i]
}

func (e *Engine) buildTable(o origin) *table {
	t := &table{views: make([]view, len(e.conns))}
	for i, c := range e.conns {
		if !c.Enabled || c.Scoped && c.siteIdx != o.siteIdx {
			continue
		}
		var m match
		if e.nearestSource(o, c, &m) {
			t.views[i] = view{ok: true, source: m.source, prox: m.prox, path: m.path}
		}
	}
	for i, r := range e.star {
		if t.views[r.conn].ok {
			t.star = append(t.star, i)
		}
	}
	cost := func(i int) int { return t.views[e.star[i].conn].path.Cost + e.star[i].space.Cost }
	sort.SliceStable(t.star, func(x, y int) bool {
		a, b := t.star[x], t.star[y]
		if ca, cb := cost(a), cost(b); ca != cb {
			return ca < cb
		}
		va, vb := t.views[e.star[a].conn], t.views[e.star[b].conn]
		if va.prox != vb.prox {
			return va.prox < vb.prox
		}
		return e.conns[e.star[a].conn].before(e.conns[e.star[b].conn])
	})
	return t
}
