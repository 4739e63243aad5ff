package routing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/directory"
)

// AddressTypes is the list of address types a site may send to
// (interfaces.md section 4, the KB 955778 contract).
type AddressTypes struct {
	Site    string   `json:"site"`
	Types   []string `json:"types"`   // sorted, upper case
	Version string   `json:"version"` // changes when, and only when, Types changes
	// Witness holds, for each listed type, an address of that type that
	// Route accepts from the site: the proof that the type belongs.
	Witness map[string]address.Address `json:"-"`
}

// AddressTypes computes the address types of site from Route itself: type
// T is listed exactly when some address of type T, submitted in the site,
// is not refused by routing (Decision.Delivered). The candidate addresses
// are every proxy address in the directory (with the forms Lookup accepts
// for it, such as EX for X500) and, for every send connector's address
// space, an address the space matches that is not in the directory. SMTP is
// always listed: an SMTP recipient with no route waits in the unreachable
// queue rather than being refused.
//
// Routing from one server of a site stands for all of them: scope and path
// costs depend on the site, and proximity only orders connectors that are
// all usable. A site without servers is routed as the site itself.
func (e *Engine) AddressTypes(site string) AddressTypes {
	st := e.org.Site(site)
	if st == nil {
		return AddressTypes{Site: site, Types: []string{}, Version: version(nil)}
	}
	idx, _ := e.topo.Index(st.Name)
	o := origin{site: st.Name, siteIdx: idx}
	if servers := e.org.ServersInSite(st.Name); len(servers) > 0 {
		o.server = servers[0].Name
	}
	at := AddressTypes{Site: st.Name, Witness: map[string]address.Address{}}
	entries := e.dir.Entries()
	var forms []address.Address
	for _, group := range e.candidates() {
		routes := func(a address.Address) bool {
			r := resolver{e: e, o: o}
			if d := r.route(a.String(), a, 0); d.Delivered() {
				at.Witness[a.Type] = a
				return true
			}
			return false
		}
		found := false
		for _, a := range group.witnesses {
			if found = routes(a); found {
				break
			}
		}
		for _, ref := range group.directory {
			if found {
				break
			}
			forms = directory.AppendLookupForms(forms[:0], entries[ref.entry].Addresses[ref.proxy].Address)
			found = routes(forms[ref.form])
		}
	}
	for t := range at.Witness {
		at.Types = append(at.Types, t)
	}
	sort.Strings(at.Types)
	at.Version = version(at.Types)
	return at
}

// candidateGroup is the addresses of one type that AddressTypes tries.
type candidateGroup struct {
	witnesses []address.Address
	directory []dirRef
}

// dirRef names a directory address without copying it: the form-th lookup
// form of proxy address proxy of entry entry.
type dirRef struct {
	entry       int32
	proxy, form int16
}

// candidates returns, grouped by address type, the addresses AddressTypes
// tries: for SMTP one address outside every accepted domain, then for each
// send connector's address space a witness that is not in the directory,
// then every proxy address of the directory in the forms Lookup accepts.
// They do not depend on the site, so they are gathered once per engine;
// AddressTypes stops at the first address of a type that routes.
func (e *Engine) candidates() []*candidateGroup {
	e.candOnce.Do(func() {
		byType := map[string]*candidateGroup{}
		group := func(t string) *candidateGroup {
			g := byType[t]
			if g == nil {
				g = &candidateGroup{}
				byType[t] = g
			}
			return g
		}
		seen := map[string]bool{} // witnesses repeat: many spaces are "*"
		group("SMTP").witnesses = []address.Address{e.smtpWitness()}
		inDirectory := func(a address.Address) bool { return e.dir.Lookup(a) != nil }
		for _, c := range e.conns {
			for i := range c.AddressSpaces {
				if w, ok := c.AddressSpaces[i].Witness(inDirectory); ok {
					if k := w.Key(); !seen[k] {
						seen[k] = true
						g := group(w.Type)
						g.witnesses = append(g.witnesses, w)
					}
				}
			}
		}
		// Directory addresses are unique already, and never equal to a
		// witness (witnesses avoid the directory).
		var forms []address.Address
		for i, ent := range e.dir.Entries() {
			for j, p := range ent.Addresses {
				forms = directory.AppendLookupForms(forms[:0], p.Address)
				for k, a := range forms {
					g := group(a.Type)
					g.directory = append(g.directory, dirRef{entry: int32(i), proxy: int16(j), form: int16(k)})
				}
			}
		}
		types := make([]string, 0, len(byType))
		for t := range byType {
			types = append(types, t)
		}
		sort.Strings(types)
		for _, t := range types {
			e.cands = append(e.cands, byType[t])
		}
	})
	return e.cands
}

// smtpWitness is an SMTP address outside every accepted domain: routing
// sends it to a connector or, with none, keeps it as unreachable, so SMTP is
// always listed, and listed because Route accepts it.
func (e *Engine) smtpWitness() address.Address {
	domain := "address-types.invalid"
	for i := 1; e.org.AcceptedDomain(domain) != nil; i++ {
		domain = fmt.Sprintf("address-types%d.invalid", i)
	}
	return address.Address{Type: "SMTP", Value: "postmaster@" + domain}
}

// version is a digest of the list: equal lists give equal versions.
func version(types []string) string {
	sum := sha256.Sum256([]byte(strings.Join(types, "\n")))
	return hex.EncodeToString(sum[:8])
}
