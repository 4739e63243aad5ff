package cli

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/hub"
	"github.com/waypost/waypost/internal/routing"
)

// orgFlags are the --config and --server flags shared by many commands.
type orgFlags struct {
	config string
	server string
}

func (o *orgFlags) register(fs *flag.FlagSet, withServer bool) {
	fs.StringVar(&o.config, "config", "", "organization file (TOML); without it, the built-in single-site organization")
	if withServer {
		fs.StringVar(&o.server, "server", "", "name of this server in the organization file (default: the only server, or the built-in one)")
	}
}

// load reads the organization (or the built-in one) and prints problems.
func (o *orgFlags) load(env *Env) (*config.Org, bool) {
	var org *config.Org
	if o.config == "" {
		org = config.Default(".")
	} else {
		if _, err := os.Stat(o.config); err != nil {
			fmt.Fprintf(env.Stderr, "waypost: cannot read the organization file: %v\n", err)
			return nil, false
		}
		var err error
		org, err = config.Load(o.config)
		if err != nil {
			fmt.Fprintln(env.Stderr, err)
			fmt.Fprintf(env.Stderr, "waypost: %s has errors; fix them first (\"waypost check --config %s\" lists them all)\n", o.config, o.config)
			return nil, false
		}
	}
	return org, true
}

// serverName resolves --server: required when the organization has several.
func (o *orgFlags) serverName(env *Env, org *config.Org) (string, bool) {
	if o.server == "" {
		if len(org.Servers) == 1 {
			return org.Servers[0].Name, true
		}
		fmt.Fprintf(env.Stderr, "waypost: the organization has %d servers; say which one with --server (%s)\n", len(org.Servers), serverList(org))
		return "", false
	}
	s := org.Server(o.server)
	if s == nil {
		fmt.Fprintf(env.Stderr, "waypost: no server %q in the organization; servers: %s\n", o.server, serverList(org))
		return "", false
	}
	return s.Name, true
}

func serverList(org *config.Org) string {
	out := ""
	for i, s := range org.Servers {
		if i > 0 {
			out += ", "
		}
		out += s.Name
	}
	return out
}

func engine(env *Env, org *config.Org) (*routing.Engine, bool) {
	return engineFor(env, org, "")
}

// engineFor builds the routing engine with the directory server would use
// (for the embedded store, that server's file; "" for the first server).
func engineFor(env *Env, org *config.Org, server string) (*routing.Engine, bool) {
	s := org.Server(server)
	if s == nil {
		s = org.DirectoryServer("")
	}
	dir, _, err := hub.OpenDirectory(org, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		fmt.Fprintf(env.Stderr, "waypost: directory: %v\n", err)
		return nil, false
	}
	return routing.New(org, dir), true
}
