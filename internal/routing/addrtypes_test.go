package routing

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/directory"
)

// TestSeedScopedFax is the regression test for Microsoft KB 955778: a FAX
// connector scoped to a site lists FAX for that site and not for others.
func TestSeedScopedFax(t *testing.T) {
	e := newEngine(t, twoSites+connector("Internet", "SMTP:*;1", "HubA1")+connector("Branch Fax", "FAX:*;1", "HubB1", "scoped = true"))
	if got := e.AddressTypes("B").Types; !reflect.DeepEqual(got, []string{"FAX", "SMTP"}) {
		t.Errorf("site B (the fax connector's site) lists %v, want [FAX SMTP]", got)
	}
	if got := e.AddressTypes("A").Types; !reflect.DeepEqual(got, []string{"SMTP"}) {
		t.Errorf("site A lists %v, want [SMTP]: FAX from A would be refused with 5.4.4", got)
	}
	unscoped := newEngine(t, twoSites+connector("Internet", "SMTP:*;1", "HubA1")+connector("Branch Fax", "FAX:*;1", "HubB1"))
	if got := unscoped.AddressTypes("A").Types; !reflect.DeepEqual(got, []string{"FAX", "SMTP"}) {
		t.Errorf("unscoped: site A lists %v, want [FAX SMTP]", got)
	}
}

func TestAddressTypesFromDirectoryAndVersion(t *testing.T) {
	e := newEngine(t, twoSites+people)
	at := e.AddressTypes("A")
	// FAX: Alice's proxy. X500 and EX: Alice's X500 proxy (EX resolves
	// through it). The contact's FAX target has no connector, but its SMTP
	// proxy is SMTP anyway.
	if want := []string{"EX", "FAX", "SMTP", "X500"}; !reflect.DeepEqual(at.Types, want) {
		t.Errorf("types %v, want %v", at.Types, want)
	}
	same := newEngine(t, twoSites+people+connector("Fax", "FAX:*;1", "HubB1"))
	if v := same.AddressTypes("A").Version; v != at.Version {
		t.Errorf("a connector for an already listed type changed the version: %s -> %s", at.Version, v)
	}
	more := newEngine(t, twoSites+people+connector("Pager", "PAGER:*;1", "HubB1"))
	if v := more.AddressTypes("A").Version; v == at.Version {
		t.Error("a new address type did not change the version")
	}
	if e.AddressTypes("nowhere").Types == nil {
		t.Error("an unknown site should give an empty list, not null")
	}
}

// TestAddressTypesProperty checks the contract of interfaces.md section 4
// over hundreds of random organizations: for every site S and type T, T is
// listed for S exactly when some address of type T routes without being
// refused from a server in S. The addresses tried come from the directory,
// from fragments of the address spaces, and from a fixed pool of values, not
// from AddressTypes, so an omission (the KB 955778 bug) or an extra type
// both fail.
func TestAddressTypesProperty(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 50
	}
	for seed := 0; seed < n; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 955778))
		text := randomOrg(rng)
		e := newEngine(t, text)
		for _, site := range e.Topology().Sites() {
			at := e.AddressTypes(site)
			idx, _ := e.Topology().Index(site)
			origins := []origin{{site: site, siteIdx: idx}}
			for _, s := range e.Org().ServersInSite(site) {
				origins = append(origins, origin{server: s.Name, site: site, siteIdx: idx})
			}
			for _, typ := range universe {
				listed := contains(at.Types, typ)
				if listed {
					w := at.Witness[typ]
					for _, o := range origins {
						r := resolver{e: e, o: o}
						if d := r.route(w.String(), w, 0); !d.Delivered() {
							t.Fatalf("seed %d site %s: %s is listed, but its witness %s is refused from %s: %+v\n%s", seed, site, typ, w, o.name(), d, text)
						}
					}
					continue
				}
				for _, a := range pool(e, typ) {
					for _, o := range origins {
						r := resolver{e: e, o: o}
						if d := r.route(a.String(), a, 0); d.Delivered() {
							t.Fatalf("seed %d site %s: %s is not listed (%v), but %s routes from %s: %+v\n%s", seed, site, typ, at.Types, a, o.name(), d, text)
						}
					}
				}
			}
		}
	}
}

var universe = []string{"SMTP", "FAX", "SMS", "X400", "NOTES", "X500", "EX", "PAGER"}

var values = map[string][]string{
	"FAX":   {"+1 555 0100", "+1 555 0199", "+44 20 7946 0000", "+15550100", "0171020225", "x"},
	"SMS":   {"+1 555 0101", "0171020225", "+44 7700 900000", "x"},
	"NOTES": {"alice/HQ/Contoso", "bob/Branch/Contoso", "x"},
	"PAGER": {"12345", "x"},
	"X500":  {"/o=Contoso/ou=HQ/cn=alice", "/o=Contoso/ou=HQ/cn=zed"},
	"EX":    {"/o=Contoso/ou=HQ/cn=alice", "/o=Contoso/ou=HQ/cn=zed"},
	"X400":  {"c=US;a= ;p=Contoso;o=HQ;s=Smith;", "c=US;a=Fabrikam;p=Contoso;s=Jones;", "c=GB;a= ;p=Other;s=Brown;"},
	"SMTP":  {"alice@contoso.test", "zed@contoso.test", "x@fabrikam.test", "x@sub.fabrikam.test", "x@other.test"},
}

// pool is every address of type typ the property test tries.
func pool(e *Engine, typ string) []address.Address {
	var out []address.Address
	for _, v := range values[typ] {
		out = append(out, address.Address{Type: typ, Value: v})
	}
	for _, c := range e.Org().SendConnectors {
		for _, sp := range c.AddressSpaces {
			if sp.Type != typ {
				continue
			}
			// The pattern with its wildcards removed, and with them filled.
			out = append(out, address.Address{Type: typ, Value: strings.ReplaceAll(sp.Pattern, "*", "")})
			out = append(out, address.Address{Type: typ, Value: strings.ReplaceAll(sp.Pattern, "*", "9")})
			if typ == "SMTP" {
				out = append(out, address.Address{Type: typ, Value: "x@" + strings.TrimPrefix(strings.ReplaceAll(sp.Pattern, "*", "w"), ".")})
			}
			if typ == "X400" {
				out = append(out, address.Address{Type: typ, Value: sp.Pattern + ";s=Doe"})
			}
		}
	}
	for _, ent := range e.Directory().Entries() {
		for _, p := range ent.Addresses {
			for _, a := range directory.LookupForms(p.Address) {
				if a.Type == typ {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// randomOrg writes a small random organization: 1-4 sites (not always
// linked, some without servers), up to 8 send connectors of assorted
// types, scopes, states and sizes, and mailboxes, contacts and groups with
// addresses of several types.
func randomOrg(rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString("[organization]\ndefault_domain = \"contoso.test\"\nhub_secret_file = \"s\"\n[[accepted_domain]]\ndomain = \"contoso.test\"\n")
	nSites := 1 + rng.IntN(4)
	var servers []string
	for i := 0; i < nSites; i++ {
		fmt.Fprintf(&b, "[[site]]\nname = \"S%d\"\nhub_site = %v\n", i, rng.IntN(4) == 0)
		for j := 0; j < rng.IntN(3); j++ {
			name := fmt.Sprintf("hub%d-%d", i, j)
			servers = append(servers, name)
			fmt.Fprintf(&b, "[[server]]\nname = %q\nsite = \"S%d\"\n", name, i)
		}
	}
	if len(servers) == 0 {
		servers = append(servers, "hub0-0")
		b.WriteString("[[server]]\nname = \"hub0-0\"\nsite = \"S0\"\n")
	}
	for i := 1; i < nSites; i++ {
		if rng.IntN(5) > 0 {
			fmt.Fprintf(&b, "[[site_link]]\nname = \"L%d\"\nsites = [\"S%d\", \"S%d\"]\ncost = %d\n", i, rng.IntN(i), i, 1+rng.IntN(20))
		}
	}
	spaces := map[string][]string{
		"SMTP":  {"*", "*.fabrikam.test", "fabrikam.test", "other.test"},
		"FAX":   {"*", "+1*", "+1 555*", "+44*", "+1 555 0100"},
		"SMS":   {"*", "+1*", "0171*"},
		"X400":  {"c=US", "c=US;p=Contoso", "c=US;a=Fabrikam;p=Contoso", "c=GB"},
		"NOTES": {"*", "*/Contoso", "bob/Branch/Contoso"},
		"PAGER": {"*"},
	}
	types := []string{"SMTP", "FAX", "SMS", "X400", "NOTES", "PAGER"}
	for i := 0; i < rng.IntN(9); i++ {
		typ := types[rng.IntN(len(types))]
		opts := spaces[typ]
		space := fmt.Sprintf("%s:%s;%d", typ, opts[rng.IntN(len(opts))], 1+rng.IntN(20))
		src := servers[rng.IntN(len(servers))]
		var extra []string
		if rng.IntN(2) == 0 {
			extra = append(extra, "scoped = true")
		}
		if rng.IntN(6) == 0 {
			extra = append(extra, "enabled = false")
		}
		if rng.IntN(6) == 0 {
			extra = append(extra, `max_message_size = "1MB"`)
		}
		b.WriteString(connector(fmt.Sprintf("C%d", i), space, src, extra...))
	}
	proxies := []string{"FAX:+1 555 0100", "FAX:+1 555 0199", "X500:/o=Contoso/ou=HQ/cn=alice", "NOTES:alice/HQ/Contoso", "SMS:+1 555 0101", "X400:c=US;a= ;p=Contoso;o=HQ;s=Smith;", "PAGER:12345"}
	used := map[int]bool{}
	proxy := func() string {
		i := rng.IntN(len(proxies))
		if used[i] {
			return ""
		}
		used[i] = true
		return ", \"" + proxies[i] + "\""
	}
	targets := []string{"FAX:+1 555 0199", "SMS:+1 555 0101", "NOTES:bob/Branch/Contoso", "x@fabrikam.test", "X400:c=GB;a= ;p=Other;s=Brown;", "PAGER:777", "zed@contoso.test"}
	for i := 0; i < rng.IntN(6); i++ {
		switch rng.IntN(3) {
		case 0:
			fmt.Fprintf(&b, "[[recipient]]\nkind = \"mailbox\"\nname = \"M%d\"\nserver = %q\naddresses = [\"SMTP:m%d@contoso.test\"%s]\n", i, servers[rng.IntN(len(servers))], i, proxy())
		case 1:
			fmt.Fprintf(&b, "[[recipient]]\nkind = \"contact\"\nname = \"C%d\"\naddresses = [\"SMTP:c%d@contoso.test\"%s]\ntarget = %q\n", i, i, proxy(), targets[rng.IntN(len(targets))])
		case 2:
			fmt.Fprintf(&b, "[[recipient]]\nkind = \"group\"\nname = \"G%d\"\naddresses = [\"SMTP:g%d@contoso.test\"%s]\nmembers = [\"m%d@contoso.test\", \"c%d@contoso.test\", \"g%d@contoso.test\"]\n", i, i, proxy(), rng.IntN(6), rng.IntN(6), rng.IntN(6))
		}
	}
	return b.String()
}

// TestFastAndExplainAgree checks that the one-pass selection used for
// routing chooses what the full selection behind --explain chooses, over
// random organizations, recipients and sizes.
func TestFastAndExplainAgree(t *testing.T) {
	for seed := 0; seed < 300; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		e := newEngine(t, randomOrg(rng))
		for _, s := range e.Org().Servers {
			for _, typ := range universe {
				for _, a := range pool(e, typ) {
					for _, size := range []int64{0, 2_000_000} {
						fast := e.RouteAddress(s.Name, a, size, false)
						full := e.RouteAddress(s.Name, a, size, true)
						if stripExplain(&full); !reflect.DeepEqual(fast, full) {
							t.Fatalf("seed %d, %s from %s, %d bytes:\nfast %+v\nfull %+v", seed, a, s.Name, size, fast, full)
						}
					}
				}
			}
		}
	}
}

func stripExplain(d *Decision) {
	d.Explain, d.HubsReason = nil, ""
	for i := range d.Members {
		stripExplain(&d.Members[i])
	}
}
