package routing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/config"
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
// are, for every send connector's address space, an address the space
// matches that is not in the directory, and then the proxy addresses of
// the directory (with the forms Lookup accepts for them, such as EX for
// X500), asked of the directory type by type. SMTP is always listed: an
// SMTP recipient with no route waits in the unreachable queue rather than
// being refused.
//
// Routing from one server of a site stands for all of them: scope and path
// costs depend on the site, and proximity only orders connectors that are
// all usable. A site without servers is routed as the site itself.
//
// The result is kept per site until the directory's set of types (its
// Types version) changes; while the directory cannot be asked, the last
// list computed is given again.
func (e *Engine) AddressTypes(site string) AddressTypes {
	st := e.org.Site(site)
	if st == nil {
		return AddressTypes{Site: site, Types: []string{}, Version: version(nil)}
	}
	dirTypes, dirVersion, err := e.dir.Types()
	e.atMu.Lock()
	cached, ok := e.atCache[st.Name]
	e.atMu.Unlock()
	if ok && (cached.dirVersion == dirVersion || err != nil) {
		return cached.at
	}
	at, complete := e.computeAddressTypes(st, dirTypes)
	if err == nil && complete {
		e.atMu.Lock()
		if e.atCache == nil {
			e.atCache = map[string]cachedTypes{}
		}
		e.atCache[st.Name] = cachedTypes{dirVersion: dirVersion, at: at}
		e.atMu.Unlock()
	}
	return at
}

// cachedTypes is an AddressTypes result and the directory version it was
// computed for.
type cachedTypes struct {
	dirVersion string
	at         AddressTypes
}

// computeAddressTypes is AddressTypes without the cache. complete is false
// when the directory failed while it was asked.
func (e *Engine) computeAddressTypes(st *config.Site, dirTypes []string) (AddressTypes, bool) {
	idx, _ := e.topo.Index(st.Name)
	o := origin{site: st.Name, siteIdx: idx}
	if servers := e.org.ServersInSite(st.Name); len(servers) > 0 {
		o.server = servers[0].Name
	}
	at := AddressTypes{Site: st.Name, Witness: map[string]address.Address{}}
	routes := func(a address.Address) bool {
		r := resolver{e: e, o: o}
		if d := r.route(a.String(), a, 0); d.Delivered() {
			at.Witness[a.Type] = a
			return true
		}
		return false
	}
	witnesses := e.candidates()
	// Types the directory has, with EX wherever X500 is (an EX address
	// finds the owner of an X500 proxy).
	inDir := map[string][]string{} // candidate type -> the proxy types that give it
	for _, t := range dirTypes {
		for _, a := range directory.LookupForms(address.Address{Type: t}) {
			inDir[a.Type] = append(inDir[a.Type], t)
		}
	}
	types := make([]string, 0, len(witnesses)+len(inDir))
	for t := range witnesses {
		types = append(types, t)
	}
	for t := range inDir {
		if witnesses[t] == nil {
			types = append(types, t)
		}
	}
	sort.Strings(types)
	complete := true
	var forms []address.Address
	for _, typ := range types {
		found := false
		for _, a := range witnesses[typ] {
			if found = routes(a); found {
				break
			}
		}
		for _, src := range inDir[typ] {
			if found {
				break
			}
			err := e.dir.EachWithType(src, func(ent *directory.Entry) bool {
				for _, p := range ent.Addresses {
					if p.Type != src {
						continue
					}
					forms = directory.AppendLookupForms(forms[:0], p.Address)
					for _, a := range forms {
						if a.Type == typ && routes(a) {
							found = true
							return false
						}
					}
				}
				return true
			})
			if err != nil {
				complete = false
			}
		}
	}
	for t := range at.Witness {
		at.Types = append(at.Types, t)
	}
	sort.Strings(at.Types)
	at.Version = version(at.Types)
	return at, complete
}

// candidates returns, by address type, the addresses outside the
// directory that AddressTypes tries first: for SMTP one address outside
// every accepted domain, then for each send connector's address space a
// witness that is not in the directory. They do not depend on the site, so
// they are gathered once per engine.
func (e *Engine) candidates() map[string][]address.Address {
	e.candOnce.Do(func() {
		e.cands = map[string][]address.Address{}
		seen := map[string]bool{} // witnesses repeat: many spaces are "*"
		e.cands["SMTP"] = []address.Address{e.smtpWitness()}
		inDirectory := func(a address.Address) bool { return e.dir.Lookup(a) != nil }
		for _, c := range e.conns {
			for i := range c.AddressSpaces {
				if w, ok := c.AddressSpaces[i].Witness(inDirectory); ok {
					if k := w.Key(); !seen[k] {
						seen[k] = true
						e.cands[w.Type] = append(e.cands[w.Type], w)
					}
				}
			}
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
