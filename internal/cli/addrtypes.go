package cli

import (
	"encoding/json"
)

func init() {
	register("addrtypes", "list the address types a site may send to (JSON)", runAddrtypes)
}

func runAddrtypes(env *Env, args []string) int {
	fs := newFlags(env, "addrtypes", "--config FILE (--site SITE | --all)",
		"Prints the address types that mail submitted in a site can be routed to, as clients\n"+
			"are told (docs/design/interfaces.md section 4): {\"site\",\"types\",\"version\"}. The list is\n"+
			"computed by the routing engine itself. --all prints one line per site.")
	var of orgFlags
	of.register(fs, false)
	site := fs.String("site", "", "site name")
	all := fs.Bool("all", false, "every site, one JSON object per line")
	if code, ok := parseFlags(env, fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	if (*site == "") == !*all {
		return usageError(env, fs, "give either --site SITE or --all")
	}
	org, ok := of.load(env)
	if !ok {
		return exitFail
	}
	eng, ok := engine(env, org)
	if !ok {
		return exitFail
	}
	var sites []string
	if *all {
		for _, s := range org.Sites {
			sites = append(sites, s.Name)
		}
	} else {
		s := org.Site(*site)
		if s == nil {
			return fail(env, "no site %q in the organization; %s", *site, siteList(org.Sites))
		}
		sites = []string{s.Name}
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetEscapeHTML(false)
	for _, s := range sites {
		if err := enc.Encode(eng.AddressTypes(s)); err != nil {
			return fail(env, "writing output: %v", err)
		}
	}
	return exitOK
}
