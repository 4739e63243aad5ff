package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	toml "github.com/pelletier/go-toml/v2"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/control"
)

// hubFlags are the flags of commands that act on a running hub through
// its control socket: --config and --server find the socket in the
// server's data folder, --socket names it directly.
type hubFlags struct {
	orgFlags
	socket string
}

func (h *hubFlags) register(fsFlags interface {
	StringVar(p *string, name, value, usage string)
}) {
	fsFlags.StringVar(&h.config, "config", "", "organization file (TOML); without it, the built-in single-site organization")
	fsFlags.StringVar(&h.server, "server", "", "name of the hub in the organization file (default: the only server)")
	fsFlags.StringVar(&h.socket, "socket", "", "the hub's control socket (default: control.sock in the server's data_dir)")
}

// dial connects to the hub's control socket. The organization file is
// read leniently for the server's data_dir: a file with errors (the very
// case of a reload being refused) must still lead to the hub.
func (h *hubFlags) dial(env *Env) (*control.Client, bool) {
	path := h.socket
	if path == "" {
		dataDir, err := h.dataDir()
		if err != nil {
			fmt.Fprintf(env.Stderr, "waypost: %v\n", err)
			return nil, false
		}
		path = control.SocketPath(dataDir)
	}
	c, err := control.Dial(path)
	if err != nil {
		fmt.Fprintf(env.Stderr, "waypost: %v\n", err)
		return nil, false
	}
	return c, true
}

// dataDir finds the data folder of the server --config and --server name.
func (h *hubFlags) dataDir() (string, error) {
	if h.config == "" {
		org := config.Default(".")
		if h.server != "" && org.Server(h.server) == nil {
			return "", fmt.Errorf("no server %q in the built-in organization (its server is %q)", h.server, config.DefaultServer)
		}
		return org.Servers[0].DataDir, nil
	}
	if org, err := config.Load(h.config); err == nil {
		name := h.server
		if name == "" {
			if len(org.Servers) != 1 {
				return "", fmt.Errorf("the organization has %d servers; say which one with --server (%s)", len(org.Servers), serverList(org))
			}
			name = org.Servers[0].Name
		}
		s := org.Server(name)
		if s == nil {
			return "", fmt.Errorf("no server %q in the organization; servers: %s", name, serverList(org))
		}
		return s.DataDir, nil
	}
	// The file has errors: read only what finds the socket.
	data, err := os.ReadFile(h.config)
	if err != nil {
		return "", fmt.Errorf("cannot read the organization file: %v", err)
	}
	var raw struct {
		Server []struct {
			Name    string `toml:"name"`
			DataDir string `toml:"data_dir"`
		} `toml:"server"`
	}
	if err := toml.Unmarshal(data, &raw); err != nil {
		return "", fmt.Errorf("%s is not valid TOML, so the hub's data_dir cannot be read from it (%v); give the socket with --socket DATA_DIR/%s", h.config, err, control.SocketName)
	}
	var names []string
	for _, s := range raw.Server {
		names = append(names, s.Name)
		if h.server == "" && len(raw.Server) == 1 || strings.EqualFold(s.Name, h.server) {
			dd := s.DataDir
			if dd == "" {
				dd = "data/" + s.Name
			}
			if !filepath.IsAbs(dd) {
				abs, err := filepath.Abs(h.config)
				if err != nil {
					return "", err
				}
				dd = filepath.Join(filepath.Dir(abs), dd)
			}
			return dd, nil
		}
	}
	if h.server == "" {
		return "", errors.New("say which server with --server (" + strings.Join(names, ", ") + ")")
	}
	return "", fmt.Errorf("no server %q in %s; servers: %s", h.server, h.config, strings.Join(names, ", "))
}

// hubError prints an error of the hub and returns the exit code.
func hubError(env *Env, err error) int {
	var ce *control.Error
	if errors.As(err, &ce) {
		fmt.Fprintf(env.Stderr, "waypost: %s\n", ce.Msg)
		for _, e := range ce.Errors {
			fmt.Fprintf(env.Stderr, "  %s\n", e)
		}
		if ce.Code == control.CodeBadRequest {
			return exitUsage
		}
		return exitFail
	}
	return fail(env, "%v", err)
}
