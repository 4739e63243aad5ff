package console

import (
	"sort"
	"strings"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/routing"
)

// typeRow is one address type of the address-types page.
type typeRow struct {
	Type    string
	Offered bool // in the list the API and `waypost addrtypes` give
	PreFix  bool // in what Exchange 2007 before SP1 UR7 advertised
	Differs bool
	Witness string       // an address of the type that routes from the site
	Via     string       // where routing sends that address
	Sources []typeSource // the send connectors with a space of the type
	Proxies []string     // or the directory: recipients' proxy types that give it
}

// typeSource is a send connector with an address space of a type.
type typeSource struct {
	Connector string
	Spaces    []string
	Scope     string // "organization" or "site NAME"
	Scoped    bool
	Usable    bool   // from the page's site
	Why       string // why not usable
}

// addrTypesData is the address-types page.
type addrTypesData struct {
	Site    string
	Sites   []string
	Types   []string // as the API gives them
	Version string
	PreFix  []string
	Rows    []typeRow
	Servers []string
	Unknown bool
}

// preFixEngine is the engine in force without its scoped send
// connectors: what an Exchange 2007 server before SP1 UR7 advertised left
// their types out of the list (KB 955778, exchange-semantics.md section
// 4.3), so routing's own address-type rule over it gives that list. It is
// kept until the engine changes.
func (s *Server) preFixEngine(eng *routing.Engine) *routing.Engine {
	s.preMu.Lock()
	defer s.preMu.Unlock()
	if s.preEng == eng {
		return s.preOld
	}
	org := *eng.Org()
	org.SendConnectors = nil
	for _, sc := range eng.Org().SendConnectors {
		if !sc.Scoped {
			org.SendConnectors = append(org.SendConnectors, sc)
		}
	}
	s.preEng, s.preOld = eng, routing.New(&org, eng.Directory())
	return s.preOld
}

// addressTypesOf computes the page for site.
func (s *Server) addressTypesOf(eng *routing.Engine, site string) addrTypesData {
	org := eng.Org()
	d := addrTypesData{Site: site}
	for _, st := range org.Sites {
		d.Sites = append(d.Sites, st.Name)
	}
	st := org.Site(site)
	if st == nil {
		d.Unknown = true
		return d
	}
	d.Site = st.Name
	for _, srv := range org.ServersInSite(st.Name) {
		d.Servers = append(d.Servers, srv.Name)
	}
	at := eng.AddressTypes(st.Name)
	pre := s.preFixEngine(eng).AddressTypes(st.Name)
	d.Types, d.Version, d.PreFix = at.Types, at.Version, pre.Types
	all := map[string]bool{}
	for _, t := range at.Types {
		all[t] = true
	}
	for _, t := range pre.Types {
		all[t] = true
	}
	// Types of connectors not offered here are shown too, with why: the
	// seed's question of a FAX routable in one site and not in another.
	for _, sc := range org.SendConnectors {
		for _, sp := range sc.AddressSpaces {
			all[sp.Type] = true
		}
	}
	types := make([]string, 0, len(all))
	for t := range all {
		types = append(types, t)
	}
	sort.Strings(types)
	dirTypes, _, _ := eng.Directory().Types()
	for _, t := range types {
		row := typeRow{Type: t, Offered: contains(at.Types, t), PreFix: contains(pre.Types, t)}
		row.Differs = row.Offered != row.PreFix
		if w, ok := at.Witness[t]; ok {
			row.Witness = w.String()
			if len(d.Servers) > 0 {
				dec := eng.RouteAddress(d.Servers[0], w, 0, false)
				row.Via = describe(&dec)
			}
		}
		for _, sc := range org.SendConnectors {
			var spaces []string
			for _, sp := range sc.AddressSpaces {
				if sp.Type == t {
					spaces = append(spaces, sp.String())
				}
			}
			if len(spaces) == 0 {
				continue
			}
			row.Sources = append(row.Sources, source(eng, sc, st.Name, spaces))
		}
		for _, dt := range dirTypes {
			if dt == t || t == "EX" && dt == "X500" {
				row.Proxies = append(row.Proxies, dt)
			}
		}
		d.Rows = append(d.Rows, row)
	}
	return d
}

// source describes connector sc for the types of site.
func source(eng *routing.Engine, sc *config.SendConnector, site string, spaces []string) typeSource {
	org := eng.Org()
	src := typeSource{Connector: sc.Name, Spaces: spaces, Scope: "organization", Scoped: sc.Scoped}
	connSite := ""
	for _, name := range sc.SourceServers {
		if srv := org.Server(name); srv != nil {
			connSite = srv.Site
			break
		}
	}
	if sc.Scoped {
		src.Scope = "site " + connSite
	}
	reachable := false
	for _, name := range sc.SourceServers {
		if srv := org.Server(name); srv != nil {
			if _, ok := eng.Topology().Path(site, srv.Site); ok {
				reachable = true
			}
		}
	}
	switch {
	case !sc.Enabled:
		src.Why = "disabled"
	case sc.Scoped && !strings.EqualFold(connSite, site):
		src.Why = "scoped to site " + connSite
	case !reachable:
		src.Why = "no site path to its source servers"
	default:
		src.Usable = true
	}
	return src
}

// describe says where a decision sends a recipient, in a few words.
func describe(d *routing.Decision) string {
	switch d.Outcome {
	case routing.OutcomeConnector:
		return "connector " + d.Connector + " at " + d.SourceServer
	case routing.OutcomeMailbox:
		return "mailbox " + d.Mailbox + " on " + d.Server
	case routing.OutcomeExpanded:
		return "group, expanded"
	case routing.OutcomeUnreachable:
		return "unreachable queue (" + d.Reason + ")"
	}
	return string(d.Outcome) + " " + d.Status + " " + d.Reason
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
