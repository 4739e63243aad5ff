package hub

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/routing"
)

// LoadOrg reads the organization file at path and validates it as start-up
// does: `waypost check`, `waypost serve` and every reload call it, so that
// a file that passes check starts and reloads, and one that does not is
// refused by all three with the same errors (docs/operations.md,
// "Reload"). The error lists every problem.
func LoadOrg(path string) (*config.Org, *routing.Engine, error) {
	org, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	eng, err := Validate(org)
	if err != nil {
		return nil, nil, err
	}
	return org, eng, nil
}

// Validate checks what start-up needs of a loaded organization beyond its
// syntax: the files and folders it names (config.CheckFiles), a hub
// secret that is not empty, the directory, and a control socket path that
// fits each server's data folder. It returns the routing engine built from
// it. The error is config.Errors when the problems are in the file.
func Validate(org *config.Org) (*routing.Engine, error) {
	var errs config.Errors
	if err := config.CheckFiles(org); err != nil {
		var ce config.Errors
		if !errors.As(err, &ce) {
			return nil, err
		}
		errs = append(errs, ce...)
	}
	if org.HubSecretFile != "" {
		if b, err := os.ReadFile(org.HubSecretFile); err == nil && len(bytes.TrimSpace(b)) == 0 {
			errs = append(errs, &config.Error{File: org.File, Msg: fmt.Sprintf("hub secret %s is empty", org.HubSecretFile),
				Fix: fmt.Sprintf("run \"waypost secret > %s\"", org.HubSecretFile)})
		}
	}
	for _, s := range org.Servers {
		if err := control.CheckPath(control.SocketPath(s.DataDir)); err != nil {
			errs = append(errs, &config.Error{File: org.File, Msg: fmt.Sprintf("server %q: %v", s.Name, err), Fix: "give data_dir a shorter path"})
		}
	}
	dir, err := directory.NewMemory(org.Recipients)
	if err != nil {
		errs = append(errs, &config.Error{File: org.File, Msg: "directory: " + err.Error(), Fix: "give each address to one recipient only"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return routing.New(org, dir), nil
}
