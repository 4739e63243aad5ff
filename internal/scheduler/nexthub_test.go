package scheduler

import (
	"testing"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/routing"
)

const chainOrg = `
[organization]
default_domain = "contoso.test"
hub_secret_file = "hub.secret"
[[site]]
name = "A"
[[site]]
name = "Mid"
hub_site = true
[[site]]
name = "Z"
[[site_link]]
name = "A-Mid"
sites = ["A", "Mid"]
[[site_link]]
name = "Mid-Z"
sites = ["Mid", "Z"]
[[server]]
name = "hub-a"
site = "A"
relay = "127.0.0.1:1"
[[server]]
name = "hub-mid2"
site = "Mid"
relay = "127.0.0.1:2"
[[server]]
name = "hub-mid1"
site = "Mid"
relay = "127.0.0.1:3"
[[server]]
name = "hub-z"
site = "Z"
relay = "127.0.0.1:4"
[[accepted_domain]]
domain = "contoso.test"
[[recipient]]
kind = "mailbox"
name = "Zed"
server = "hub-z"
addresses = ["SMTP:zed@contoso.test"]
[[recipient]]
kind = "mailbox"
name = "Ann"
server = "hub-a"
addresses = ["SMTP:ann@contoso.test"]
[[send_connector]]
name = "Z out"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub-z"]
delivery = { kind = "drop", directory = "out" }
`

// The next hop a hub gives a recipient: through the hub site, the first
// of its relaying servers (lowest name: the single choice; the scheduler
// shares among all of them, balance.go); else the destination server; its
// own delivery when it is the destination.
func TestNextHub(t *testing.T) {
	org, err := config.Parse([]byte(chainOrg), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := directory.NewMemory(org.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	eng := routing.New(org, dir)
	for _, c := range []struct {
		name, self, rcpt, want string
	}{
		{"through the hub site, its lowest-named server", "hub-a", "zed@contoso.test", "hub:hub-mid1"},
		{"through the hub site to a connector", "hub-a", "x@fabrikam.test", "hub:hub-mid1"},
		{"already in the hub site: the mailbox's server", "hub-mid1", "zed@contoso.test", "hub:hub-z"},
		{"a connector's source server", "hub-mid2", "x@fabrikam.test", "hub:hub-z"},
		{"never itself", "hub-a", "ann@contoso.test", "mailbox:hub-a"},
		{"its own connector", "hub-z", "x@fabrikam.test", "connector:Z out@hub-z"},
	} {
		s := &Scheduler{Server: c.self}
		d := eng.Route(c.self, c.rcpt, 0, false)
		if got := s.hopOf(&d).String(); got != c.want {
			t.Errorf("%s: next hop %q, want %q (%+v)", c.name, got, c.want, d)
		}
	}
}
