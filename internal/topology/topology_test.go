package topology

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/config"
)

// org builds an organization from links written "A-B:5" and hub site names.
func org(t *testing.T, links string, hubs ...string) *config.Org {
	t.Helper()
	sites := map[string]bool{}
	var b strings.Builder
	b.WriteString("[organization]\ndefault_domain = \"t.test\"\n[[accepted_domain]]\ndomain = \"t.test\"\n[[server]]\nname = \"h\"\nsite = \"A\"\n")
	var linkText strings.Builder
	for i, l := range strings.Fields(links) {
		var a, z string
		var cost int
		pair, c, _ := strings.Cut(l, ":")
		a, z, _ = strings.Cut(pair, "-")
		fmt.Sscan(c, &cost)
		sites[a], sites[z] = true, true
		fmt.Fprintf(&linkText, "[[site_link]]\nname = \"L%d\"\nsites = [%q, %q]\ncost = %d\n", i, a, z, cost)
	}
	sites["A"] = true
	for s := range sites {
		hub := false
		for _, h := range hubs {
			hub = hub || h == s
		}
		fmt.Fprintf(&b, "[[site]]\nname = %q\nhub_site = %v\n", s, hub)
	}
	b.WriteString(linkText.String())
	o, err := config.Parse([]byte(b.String()), "test.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestPathVectors is exchange-semantics.md section 8.4.
func TestPathVectors(t *testing.T) {
	tests := []struct {
		name, links string
		hubs        []string
		from, to    string
		want        []string
		cost        int
		relays      []string
	}{
		{"fewer hops at equal cost", "A-B:5 B-D:10 B-C:5 C-D:5", nil, "A", "D", []string{"A", "B", "D"}, 15, nil},
		{"lower site nearest the destination", "A-B:5 B-D:5 A-C:5 C-D:5", nil, "A", "D", []string{"A", "B", "D"}, 10, nil},
		{"exchange cost overrides", "A-B:5 B-D:5 A-C:5 C-D:1", nil, "A", "D", []string{"A", "C", "D"}, 6, nil},
		{"hub site on the path relays", "A-C:1 C-E:1 A-B:5 B-E:5", []string{"C"}, "A", "E", []string{"A", "C", "E"}, 2, []string{"C"}},
		{"no hub site: direct", "A-C:1 C-E:1 A-B:5 B-E:5", nil, "A", "E", []string{"A", "C", "E"}, 2, nil},
		{"hub site off the path is ignored", "A-C:1 C-E:1 A-B:5 B-E:5", []string{"B"}, "A", "E", []string{"A", "C", "E"}, 2, nil},
		{"same site", "A-B:5", nil, "B", "B", []string{"B"}, 0, nil},
		{"reverse direction", "A-B:5 B-D:10 B-C:5 C-D:5", nil, "D", "A", []string{"D", "B", "A"}, 15, nil},
		{"earlier site decides when the nearest is shared", "A-B:1 A-C:1 B-X:1 C-X:1 X-Z:1", nil, "A", "Z", []string{"A", "B", "X", "Z"}, 3, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := New(org(t, tc.links, tc.hubs...))
			p, ok := g.Path(tc.from, tc.to)
			if !ok {
				t.Fatalf("no path %s -> %s", tc.from, tc.to)
			}
			if !reflect.DeepEqual(p.Sites, tc.want) || p.Cost != tc.cost {
				t.Errorf("path %v cost %d, want %v cost %d", p.Sites, p.Cost, tc.want, tc.cost)
			}
			if r := g.RelayPoints(p); !reflect.DeepEqual(r, tc.relays) {
				t.Errorf("relay points %v, want %v", r, tc.relays)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	g := New(org(t, "A-B:5 C-D:1"))
	if _, ok := g.Path("A", "D"); ok {
		t.Error("A and D are not linked, but a path was found")
	}
	if _, ok := g.Path("A", "Nowhere"); ok {
		t.Error("unknown site gave a path")
	}
	if p, ok := g.Path("a", "b"); !ok || p.Cost != 5 {
		t.Errorf("site names should compare case-insensitively: %v %v", p, ok)
	}
}
