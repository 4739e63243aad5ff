package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/waypost/waypost/internal/config"
)

func init() {
	register("version", "print the version of this binary", runVersion)
}

func runVersion(env *Env, args []string) int {
	fs := newFlags(env, "version", "", "Prints the module version and the VCS revision the binary was built from.")
	if code, ok := parseFlags(env, fs, args); !ok {
		return code
	}
	v, rev := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	fmt.Fprintf(env.Stdout, "waypost %s %s\n", v, rev)
	return exitOK
}

func siteList(sites []*config.Site) string {
	out := "sites:"
	for _, s := range sites {
		out += " " + s.Name
	}
	return out
}
