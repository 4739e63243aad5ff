package routing

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// shareOrg: hub-a in site 1; site 2 has the connector's source servers
// hub-b and hub-c and hub-d, which has no relay listener; site Mid, on the
// way to site 3, is a hub site with two relaying hubs; Zed's mailbox is on
// hub-z in site 3.
const shareOrg = `
[organization]
default_domain = "contoso.test"
hub_secret_file = "hub.secret"
[[accepted_domain]]
domain = "contoso.test"
[[site]]
name = "1"
[[site]]
name = "2"
[[site]]
name = "Mid"
hub_site = true
[[site]]
name = "3"
[[site_link]]
name = "1-2"
sites = ["1", "2"]
cost = 10
[[site_link]]
name = "1-Mid"
sites = ["1", "Mid"]
cost = 10
[[site_link]]
name = "Mid-3"
sites = ["Mid", "3"]
cost = 10
[[server]]
name = "hub-a"
site = "1"
relay = "127.0.0.1:1"
[[server]]
name = "hub-c"
site = "2"
relay = "127.0.0.1:2"
[[server]]
name = "hub-b"
site = "2"
relay = "127.0.0.1:3"
[[server]]
name = "hub-d"
site = "2"
[[server]]
name = "mid-2"
site = "Mid"
relay = "127.0.0.1:4"
[[server]]
name = "mid-1"
site = "Mid"
relay = "127.0.0.1:5"
[[server]]
name = "hub-z"
site = "3"
relay = "127.0.0.1:6"
[[recipient]]
kind = "mailbox"
name = "Zed"
server = "hub-z"
addresses = ["SMTP:zed@contoso.test"]
[[recipient]]
kind = "mailbox"
name = "Bea"
server = "hub-b"
addresses = ["SMTP:bea@contoso.test"]
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub-d", "hub-c", "hub-b"]
delivery = { kind = "drop", directory = "out" }
`

// Routing lists every equivalent server, the single choice first.
func TestEquivalentHubs(t *testing.T) {
	e := newEngine(t, shareOrg)
	for _, c := range []struct {
		name, server, rcpt string
		sources, hubs      []string
	}{
		{"connector in a remote site: every source server there, relaying ones as hubs", "hub-a", "x@fabrikam.test", []string{"hub-b", "hub-c", "hub-d"}, []string{"hub-b", "hub-c"}},
		{"a source server routes to itself", "hub-c", "x@fabrikam.test", nil, nil},
		{"a source server without a relay listener routes to itself too", "hub-d", "x@fabrikam.test", nil, nil},
		{"mailbox behind a hub site: that site's relaying hubs", "hub-a", "zed@contoso.test", nil, []string{"mid-1", "mid-2"}},
		{"mailbox from inside the hub site: its home server", "mid-2", "zed@contoso.test", nil, []string{"hub-z"}},
		{"mailbox in a site without hub site on the way", "hub-a", "bea@contoso.test", nil, []string{"hub-b"}},
		{"mailbox here", "hub-b", "bea@contoso.test", nil, nil},
	} {
		d := e.Route(c.server, c.rcpt, 0, false)
		if !reflect.DeepEqual(d.SourceServers, c.sources) || !reflect.DeepEqual(d.Hubs, c.hubs) {
			t.Errorf("%s: source servers %q hubs %q, want %q and %q (%+v)", c.name, d.SourceServers, d.Hubs, c.sources, c.hubs, d)
		}
		if len(d.SourceServers) > 0 && d.SourceServers[0] != d.SourceServer {
			t.Errorf("%s: source server %s is not the first of %q", c.name, d.SourceServer, d.SourceServers)
		}
	}
}

// The same-site case: hub-a2 routes to the connector of hub-a1 and hub-a3
// in its own site (proximity 1) and lists both; a source server in a
// remote site at equal cost is not equivalent.
func TestEquivalentSourceServersInOwnSite(t *testing.T) {
	e := newEngine(t, twoSites+`[[server]]
name = "HubA3"
site = "A"
`+connector("C", "SMTP:*;1", "HubB1, HubA3, HubA1"))
	d := e.Route("HubA2", "x@fabrikam.test", 0, false)
	if want := []string{"HubA1", "HubA3"}; !reflect.DeepEqual(d.SourceServers, want) || d.SourceServer != "HubA1" {
		t.Errorf("source servers %q (%s), want %q", d.SourceServers, d.SourceServer, want)
	}
	if want := []string{"HubA1"}; !reflect.DeepEqual(d.Hubs, want) {
		t.Errorf("no source server has a relay listener: hubs %q, want %q, the single choice (it waits: no relay)", d.Hubs, want)
	}
	if x := e.Route("HubA2", "x@fabrikam.test", 0, true); !strings.HasPrefix(x.HubsReason, "straight to HubA1, which has no relay listener") {
		t.Errorf("hubs reason: %q", x.HubsReason)
	}
}

// --explain names the candidates and how one is picked; the JSON of
// `waypost route` carries them.
func TestExplainHubs(t *testing.T) {
	e := newEngine(t, shareOrg)
	d := e.Route("hub-a", "x@fabrikam.test", 0, true)
	var chosen string
	for _, c := range d.Explain {
		if c.Kept {
			chosen = c.Reason
		}
	}
	if !strings.Contains(chosen, "equivalent source servers, sharing the load: hub-b, hub-c, hub-d") {
		t.Errorf("chosen connector's reason: %q", chosen)
	}
	if !strings.Contains(d.HubsReason, "source servers in site 2 with a relay listener, hub-b, hub-c (") || !strings.Contains(d.HubsReason, "fewest messages") {
		t.Errorf("hubs reason: %q", d.HubsReason)
	}
	z := e.Route("hub-a", "zed@contoso.test", 0, true)
	if !strings.HasPrefix(z.HubsReason, "through hub site Mid: its servers with a relay listener, mid-1, mid-2") {
		t.Errorf("hubs reason for zed: %q", z.HubsReason)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"source_servers":["hub-b","hub-c","hub-d"],"hubs":["hub-b","hub-c"]`) {
		t.Errorf("JSON: %s", b)
	}
	if bea := e.Route("hub-a", "bea@contoso.test", 0, true); bea.HubsReason != "straight to the mailbox's home server, hub-b (the only one)" {
		t.Errorf("hubs reason for bea: %q", bea.HubsReason)
	}
	if d := e.Route("hub-a", "x@fabrikam.test", 0, true); d.HubsReason == "" || strings.Contains(d.HubsReason, "no relay listener") {
		t.Errorf("hubs reason: %q", d.HubsReason)
	}
	if fast := e.Route("hub-a", "x@fabrikam.test", 0, false); fast.HubsReason != "" {
		t.Errorf("hubs reason without --explain: %q", fast.HubsReason)
	}
}
