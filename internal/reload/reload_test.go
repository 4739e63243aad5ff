package reload

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/routing"
)

// The built-in organization has no file: a reload says so and what to do.
// (Reloads of a real file are tested through a running hub, in
// internal/hub's reload_test.go.)
func TestReloadBuiltIn(t *testing.T) {
	org := config.Default(t.TempDir())
	d, err := directory.NewMemory(org.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	var eng atomic.Pointer[routing.Engine]
	eng.Store(routing.New(org, d))
	r := &Reloader{Server: org.Servers[0], Engine: &eng}
	r.Init()
	if _, err := r.Reload("tester"); err == nil || !strings.Contains(err.Error(), "built-in organization") || !strings.Contains(err.Error(), "--config FILE") {
		t.Errorf("reload of the built-in organization: %v", err)
	}
	if digest := r.Snapshot().Digest; digest != "" {
		t.Errorf("digest of the built-in organization: %q", digest)
	}
}

func TestOrgFile(t *testing.T) {
	for file, want := range map[string]string{"/etc/waypost/org.toml": "/etc/waypost/org.toml", "(built-in organization)": "", "": ""} {
		if got := OrgFile(&config.Org{File: file}); got != want {
			t.Errorf("OrgFile(%q) = %q, want %q", file, got, want)
		}
	}
}

// The relay listener's certificate is read at start: a changed relay_tls
// applies after a restart, and the reload says so.
func TestRelayTLSNeedsRestart(t *testing.T) {
	const text = `[organization]
default_domain = "c.test"
[[accepted_domain]]
domain = "c.test"
[[site]]
name = "A"
[[server]]
name = "a1"
site = "A"
relay = "127.0.0.1:2526"
`
	dir := t.TempDir()
	old, err := config.Parse([]byte(text), "org.toml", dir)
	if err != nil {
		t.Fatal(err)
	}
	org, err := config.Parse([]byte(text+`relay_tls = { cert = "relay.crt", key = "relay.key" }`+"\n"), "org.toml", dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &Reloader{Server: old.Server("a1")}
	_, restart := r.diff(old, org)
	if len(restart) != 1 || !strings.HasPrefix(restart[0], "relay_tls of a1") || !strings.Contains(restart[0], "relay.crt") {
		t.Errorf("restart %q", restart)
	}
}
