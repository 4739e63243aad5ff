// Package topology computes least-cost paths between the sites of an
// organization over its site links, the way Exchange 2007 routing does
// (exchange-semantics.md section 2.2; interfaces.md section 3 rule 3):
//
//  1. the path with the lowest total link cost;
//  2. then the path with the fewest hops;
//  3. then the path whose site nearest the destination has the
//     alphanumerically lowest name; if that site is the same, the site
//     before it, and so on towards the source.
//
// Hub sites on the chosen path are relay points (section 2.3). Every path
// between every pair of sites is computed once, when the Graph is built, so
// a lookup costs a table read.
package topology

import (
	"strings"

	"github.com/waypost/waypost/internal/config"
)

// Path is a least-cost path between two sites, both included.
type Path struct {
	Sites []string // from the source site to the destination site; shared, do not modify
	Cost  int      // sum of the link costs
}

// Hops is the number of links the path crosses.
func (p Path) Hops() int { return len(p.Sites) - 1 }

// Graph holds the sites, links and every least-cost path.
type Graph struct {
	names []string       // site names, in file order
	index map[string]int // folded name -> index
	hub   []bool
	paths [][]*label // paths[from][to]; nil when unreachable
}

type edge struct{ to, cost int }

// label is a candidate path during the search, compared by the rules above.
type label struct {
	cost  int
	sites []int    // from source to this site
	names []string // the same, as names; filled once the search is over
}

// New builds the graph of org's sites and computes all paths.
func New(org *config.Org) *Graph {
	g := &Graph{index: map[string]int{}}
	for i, s := range org.Sites {
		g.names = append(g.names, s.Name)
		g.hub = append(g.hub, s.HubSite)
		g.index[strings.ToLower(s.Name)] = i
	}
	adj := make([][]edge, len(g.names))
	for _, l := range org.SiteLinks {
		a, okA := g.index[strings.ToLower(l.Sites[0])]
		b, okB := g.index[strings.ToLower(l.Sites[1])]
		if !okA || !okB {
			continue
		}
		adj[a] = append(adj[a], edge{b, l.Cost})
		adj[b] = append(adj[b], edge{a, l.Cost})
	}
	g.paths = make([][]*label, len(g.names))
	for src := range g.names {
		g.paths[src] = g.search(adj, src)
		for _, l := range g.paths[src] {
			if l != nil {
				l.names = make([]string, len(l.sites))
				for i, s := range l.sites {
					l.names[i] = g.names[s]
				}
			}
		}
	}
	return g
}

// search is Dijkstra's algorithm from src with the full comparison of
// labels. Extending two paths to the same site by the same link keeps their
// order under all three rules, so the search stays exact.
func (g *Graph) search(adj [][]edge, src int) []*label {
	best := make([]*label, len(g.names))
	done := make([]bool, len(g.names))
	best[src] = &label{sites: []int{src}}
	for {
		u := -1
		for v, l := range best {
			if l != nil && !done[v] && (u < 0 || g.less(l, best[u])) {
				u = v
			}
		}
		if u < 0 {
			return best
		}
		done[u] = true
		for _, e := range adj[u] {
			if done[e.to] {
				continue
			}
			sites := make([]int, len(best[u].sites), len(best[u].sites)+1)
			copy(sites, best[u].sites)
			cand := &label{cost: best[u].cost + e.cost, sites: append(sites, e.to)}
			if best[e.to] == nil || g.less(cand, best[e.to]) {
				best[e.to] = cand
			}
		}
	}
}

// less orders two paths that end at the same site.
func (g *Graph) less(a, b *label) bool {
	if a.cost != b.cost {
		return a.cost < b.cost
	}
	if len(a.sites) != len(b.sites) {
		return len(a.sites) < len(b.sites)
	}
	// Compare from the site nearest the destination back towards the source.
	for i := len(a.sites) - 1; i >= 0; i-- {
		if a.sites[i] != b.sites[i] {
			return g.siteLess(a.sites[i], b.sites[i])
		}
	}
	return false
}

func (g *Graph) siteLess(a, b int) bool {
	x, y := strings.ToLower(g.names[a]), strings.ToLower(g.names[b])
	if x != y {
		return x < y
	}
	return g.names[a] < g.names[b]
}

// Path returns the least-cost path from site from to site to, and false
// when either site is unknown or no links join them.
func (g *Graph) Path(from, to string) (Path, bool) {
	a, okA := g.index[strings.ToLower(from)]
	b, okB := g.index[strings.ToLower(to)]
	if !okA || !okB {
		return Path{}, false
	}
	l := g.paths[a][b]
	if l == nil {
		return Path{}, false
	}
	return Path{Sites: l.names, Cost: l.cost}, true
}

// RelayPoints returns the hub sites strictly between the ends of p, in path
// order: mail along p is handed to a hub in each of them in turn.
func (g *Graph) RelayPoints(p Path) []string {
	var out []string
	for i := 1; i < len(p.Sites)-1; i++ {
		if g.IsHubSite(p.Sites[i]) {
			out = append(out, p.Sites[i])
		}
	}
	return out
}

// IsHubSite reports whether site is a hub site.
func (g *Graph) IsHubSite(site string) bool {
	i, ok := g.index[strings.ToLower(site)]
	return ok && g.hub[i]
}

// Sites returns the site names in file order.
func (g *Graph) Sites() []string { return g.names }

// Index returns the index of a site, for PathAt.
func (g *Graph) Index(site string) (int, bool) {
	i, ok := g.index[strings.ToLower(site)]
	return i, ok
}

// PathAt is Path for site indexes; it does not allocate.
func (g *Graph) PathAt(from, to int) (Path, bool) {
	if from < 0 || to < 0 || from >= len(g.paths) || to >= len(g.paths) {
		return Path{}, false
	}
	l := g.paths[from][to]
	if l == nil {
		return Path{}, false
	}
	return Path{Sites: l.names, Cost: l.cost}, true
}
