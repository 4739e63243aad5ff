package config

import (
	"fmt"
	"testing"
	"time"
)

const shadowBase = `[organization]
default_domain = "c.test"
hub_secret_file = "hub.secret"
%s
[[accepted_domain]]
domain = "c.test"
[[site]]
name = "HQ"
[[site]]
name = "Branch"
[[site_link]]
name = "L"
sites = ["HQ", "Branch"]
[[server]]
name = "hub2"
site = "HQ"
relay = "127.0.0.1:2526"
  [[server.receive]]
  name = "In"
  listen = "127.0.0.1:25"
[[server]]
name = "hub1"
site = "HQ"
relay = "127.0.0.1:2527"
[[server]]
name = "hub3"
site = "HQ"
relay = "127.0.0.1:2528"
[[server]]
name = "branch1"
site = "Branch"
%s
`

func shadowOrg(org, branch string) string {
	return fmt.Sprintf(shadowBase, org, branch)
}

func TestShadowKeys(t *testing.T) {
	org, err := Parse([]byte(shadowOrg("", "")), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if org.ShadowHeartbeatTimeout != 5*time.Minute || org.ShadowOnReceive != ShadowBestEffort {
		t.Errorf("defaults: %s %q", org.ShadowHeartbeatTimeout, org.ShadowOnReceive)
	}
	var peers []string
	for _, s := range org.ShadowPeers("hub2") {
		peers = append(peers, s.Name)
	}
	if got := fmt.Sprintf("%v", peers); got != "[hub3 hub1]" {
		t.Errorf("ShadowPeers(hub2) = %s, want the next by name first: [hub3 hub1]", got)
	}
	if p := org.ShadowPeers("branch1"); len(p) != 0 {
		t.Errorf("a lone hub has shadow peers: %v", p)
	}

	org, err = Parse([]byte(shadowOrg("shadow_heartbeat_timeout = \"30s\"\nshadow_on_receive = \"Required\"", "")), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if org.ShadowHeartbeatTimeout != 30*time.Second || org.ShadowOnReceive != ShadowRequired {
		t.Errorf("set: %s %q", org.ShadowHeartbeatTimeout, org.ShadowOnReceive)
	}

	errs := parseErrs(t, shadowOrg("shadow_heartbeat_timeout = \"soon\"\nshadow_on_receive = \"always\"", ""))
	want(t, errs, 4, `"soon" is not a duration`)
	want(t, errs, 5, `shadow_on_receive "always" is not a mode`)

	// required where a hub receives with no other hub in its site, or has no relay address.
	errs = parseErrs(t, shadowOrg(`shadow_on_receive = "required"`, "relay = \"127.0.0.1:2529\"\n  [[server.receive]]\n  name = \"BranchIn\"\n  listen = \"127.0.0.1:26\""))
	want(t, errs, 33, `no other server of its site "Branch" has a relay address`)
	errs = parseErrs(t, shadowOrg(`shadow_on_receive = "required"`, "relay = \"\"\n  [[server.receive]]\n  name = \"BranchIn\"\n  listen = \"127.0.0.1:26\""))
	want(t, errs, 32, `server branch1 receives mail and has no relay address`)
}
