package scheduler

import (
	"testing"

	"github.com/waypost/waypost/internal/config"
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
`

func TestNextHub(t *testing.T) {
	org, err := config.Parse([]byte(chainOrg), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		d    routing.Decision
		self string
		want string
	}{
		{"through the hub site, its lowest-named server", routing.Decision{Outcome: routing.OutcomeMailbox, Server: "hub-z", RelaySites: []string{"Mid"}}, "hub-a", "hub-mid1"},
		{"no hub site: the mailbox's server", routing.Decision{Outcome: routing.OutcomeMailbox, Server: "hub-z"}, "hub-a", "hub-z"},
		{"a connector's source server", routing.Decision{Outcome: routing.OutcomeConnector, SourceServer: "hub-z"}, "hub-mid1", "hub-z"},
		{"never itself", routing.Decision{Outcome: routing.OutcomeMailbox, Server: "hub-a"}, "hub-a", ""},
		{"already in the hub site", routing.Decision{Outcome: routing.OutcomeMailbox, Server: "hub-z", RelaySites: []string{"Mid"}}, "hub-mid1", "hub-z"},
	} {
		if got := NextHub(org, &c.d, c.self); got != c.want {
			t.Errorf("%s: NextHub = %q, want %q", c.name, got, c.want)
		}
	}
}
