package routing

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// largeOrg is the benchmark organization of issue 2: 100 sites, 1,000 send
// connectors and 100,000 recipients. It is built once per test binary.
var largeOrg = sync.OnceValue(func() string {
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("[organization]\ndefault_domain = \"contoso.test\"\nhub_secret_file = \"s\"\n[[accepted_domain]]\ndomain = \"contoso.test\"\n")
	const sites = 100
	for i := 0; i < sites; i++ {
		fmt.Fprintf(&b, "[[site]]\nname = \"Site%03d\"\nhub_site = %v\n", i, i%10 == 0)
		fmt.Fprintf(&b, "[[server]]\nname = \"hub%03d\"\nsite = \"Site%03d\"\n", i, i)
		if i > 0 {
			// A tree plus some cross links, so paths have ties to break.
			parent := rng.IntN(i)
			fmt.Fprintf(&b, "[[site_link]]\nname = \"T%d\"\nsites = [\"Site%03d\", \"Site%03d\"]\ncost = %d\n", i, parent, i, 1+rng.IntN(50))
			if cross := (parent + 1 + rng.IntN(i)) % i; i%3 == 0 && cross != parent {
				fmt.Fprintf(&b, "[[site_link]]\nname = \"X%d\"\nsites = [\"Site%03d\", \"Site%03d\"]\ncost = %d\n", i, cross, i, 1+rng.IntN(50))
			}
		}
	}
	for i := 0; i < 1000; i++ {
		src := fmt.Sprintf("hub%03d", rng.IntN(sites))
		var space string
		scoped := false
		switch i % 10 {
		case 0, 1, 2, 3:
			space = fmt.Sprintf("SMTP:partner%d.test;%d", i, 1+rng.IntN(100))
		case 4, 5:
			space = fmt.Sprintf("SMTP:*.region%d.test;%d", i%50, 1+rng.IntN(100))
		case 6:
			space = fmt.Sprintf("SMTP:*;%d", 1+rng.IntN(100))
		case 7:
			space = fmt.Sprintf("FAX:+%d*;%d", 1+rng.IntN(99), 1+rng.IntN(100))
			scoped = true
		case 8:
			space = fmt.Sprintf("X400:c=US;p=P%d;%d", rng.IntN(50), 1+rng.IntN(100))
		case 9:
			space = fmt.Sprintf("SMS:*;%d", 1+rng.IntN(100))
			scoped = rng.IntN(2) == 0
		}
		extra := []string{}
		if scoped {
			extra = append(extra, "scoped = true")
		}
		b.WriteString(connector(fmt.Sprintf("Conn%04d", i), space, src, extra...))
	}
	for i := 0; i < 100_000; i++ {
		fmt.Fprintf(&b, "[[recipient]]\nkind = \"mailbox\"\nname = \"User %d\"\nserver = \"hub%03d\"\naddresses = [\"SMTP:user%d@contoso.test\", \"X500:/o=Contoso/cn=user%d\"", i, i%sites, i, i)
		if i%10 == 0 {
			fmt.Fprintf(&b, ", \"FAX:+1 555 %07d\"", i)
		}
		b.WriteString("]\n")
	}
	return b.String()
})

func largeEngine(b *testing.B) *Engine {
	b.Helper()
	return newEngine(b, largeOrg())
}

// BenchmarkRoute measures one route decision for a mix of recipients:
// mailboxes, external SMTP domains matched by exact, suffix and wildcard
// spaces, FAX by wildcard patterns, and X.400.
func BenchmarkRoute(b *testing.B) {
	e := largeEngine(b)
	rcpts := []struct{ name, rcpt string }{
		{"mailbox", "user4242@contoso.test"},
		{"smtp-exact", "bob@partner120.test"},
		{"smtp-suffix", "bob@mail.region7.test"},
		{"smtp-wildcard", "bob@fabrikam.test"},
		{"fax", "FAX:+15550100"},
		{"x400", "X400:c=US;a= ;p=P7;o=Sales;s=Smith;"},
	}
	for _, tc := range rcpts {
		r := tc.rcpt
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Route("hub042", r, 1000, false)
			}
		})
	}
}

// BenchmarkAddressTypesAllSites recomputes the address types of every site
// (past the per-site cache, which AddressTypes keeps until the directory's
// types change).
func BenchmarkAddressTypesAllSites(b *testing.B) {
	e := largeEngine(b)
	sites := e.Topology().Sites()
	types, _, _ := e.Directory().Types()
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range sites {
			e.computeAddressTypes(e.Org().Site(s), types)
		}
	}
}

// BenchmarkBuild measures building the engine (paths between all sites and
// the connector index) for the large organization, without parsing.
func BenchmarkBuild(b *testing.B) {
	e := largeEngine(b)
	b.ReportAllocs()
	for b.Loop() {
		New(e.Org(), e.Directory())
	}
}

// BenchmarkAddressTypesAfterChange is what a configuration change costs:
// a new engine (paths, connector index, per-server tables, candidates)
// and the address types of every site.
func BenchmarkAddressTypesAfterChange(b *testing.B) {
	e := largeEngine(b)
	sites := e.Topology().Sites()
	b.ReportAllocs()
	for b.Loop() {
		fresh := New(e.Org(), e.Directory())
		for _, s := range sites {
			fresh.AddressTypes(s)
		}
	}
}
