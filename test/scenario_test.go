package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waypost/waypost/test/harness"
)

// scenario is an organization from test/scenarios/NAME/org.toml written
// into a temporary folder, its @KEY@ placeholders filled from Vars (every
// key ending in _RELAY or _SMTP gets a free loopback port), with a hub
// secret beside it.
type scenario struct {
	t    *testing.T
	name string
	Dir  string
	File string
	Vars map[string]string
}

func newScenario(t *testing.T, name string, vars map[string]string, ports ...string) *scenario {
	t.Helper()
	s := &scenario{t: t, name: name, Dir: t.TempDir(), Vars: vars}
	for _, k := range ports {
		s.Vars[k] = harness.Port(t)
	}
	s.File = filepath.Join(s.Dir, "org.toml")
	harness.Write(t, filepath.Join(s.Dir, "hub.secret"), "c2NlbmFyaW8gaHViIHNlY3JldA==\n")
	s.Write()
	return s
}

// Write (re)writes the organization file from the current Vars.
func (s *scenario) Write() {
	text := readFile(s.t, filepath.Join("scenarios", s.name, "org.toml"))
	for k, v := range s.Vars {
		text = strings.ReplaceAll(text, "@"+k+"@", v)
	}
	harness.Write(s.t, s.File, text)
}

// Data is the data folder of a server.
func (s *scenario) Data(server string) string { return filepath.Join(s.Dir, "data", server) }

// Track is a server's tracking log.
func (s *scenario) Track(server string) string {
	b, _ := os.ReadFile(filepath.Join(s.Data(server), "tracking.log"))
	return string(b)
}
