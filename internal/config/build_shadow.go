package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Shadow redundancy (docs/design/shadow.md; Exchange 2010 shadow
// redundancy and Exchange 2013 shadow copies before the 250).
const (
	DefaultShadowHeartbeatTimeout = 5 * time.Minute

	ShadowOff        = "off"
	ShadowBestEffort = "best_effort" // the default
	ShadowRequired   = "required"
)

func buildShadow(c *collector, org *Org, r *rawOrganization) {
	org.ShadowHeartbeatTimeout = durationOr(c, "organization.shadow_heartbeat_timeout", r.ShadowHeartbeatTimeout, DefaultShadowHeartbeatTimeout, time.Second, 24*time.Hour)
	switch v := strings.ToLower(strings.TrimSpace(r.ShadowOnReceive)); v {
	case "":
		org.ShadowOnReceive = ShadowBestEffort
	case ShadowOff, ShadowBestEffort, ShadowRequired:
		org.ShadowOnReceive = v
	default:
		org.ShadowOnReceive = ShadowBestEffort
		c.add("organization.shadow_on_receive", `write shadow_on_receive = "off", "best_effort" (the default) or "required"`,
			"shadow_on_receive %q is not a mode", r.ShadowOnReceive)
	}
}

// checkShadow refuses shadow_on_receive = "required" where a server
// takes mail from outside (a receive connector) with no other hub of its
// site to take the copies: it would refuse all of that mail.
func checkShadow(c *collector, org *Org) {
	if org.ShadowOnReceive != ShadowRequired {
		return
	}
	for i, s := range org.Servers {
		if len(s.Receive) == 0 {
			continue
		}
		if s.Relay == "" {
			c.add(fmt.Sprintf("server[%d].relay", i), `give the server a relay address (relay = "10.0.0.5:2526"), or set shadow_on_receive = "best_effort"`,
				`shadow_on_receive = "required", but server %s receives mail and has no relay address, on which the hubs holding its shadow copies ask it about them`, s.Name)
			continue
		}
		if len(org.ShadowPeers(s.Name)) > 0 {
			continue
		}
		c.add(fmt.Sprintf("server[%d].receive[0]", i), fmt.Sprintf(`give another server of site %q a relay address, or set shadow_on_receive = "best_effort"`, s.Site),
			`shadow_on_receive = "required", but server %s receives mail and no other server of its site %q has a relay address to take the shadow copies: every message would be refused`, s.Name, s.Site)
	}
}

// ShadowPeers returns the servers that can hold the shadow copies of
// server's mail: the other servers of its site with a relay address, in
// ring order after it (the next by name first, so that the hubs of a
// site spread their copies).
func (o *Org) ShadowPeers(server string) []*Server {
	me := o.Server(server)
	if me == nil {
		return nil
	}
	var all []*Server
	for _, s := range o.ServersInSite(me.Site) {
		if s.Relay != "" || s == me {
			all = append(all, s)
		}
	}
	slices.SortFunc(all, func(a, b *Server) int { return strings.Compare(fold(a.Name), fold(b.Name)) })
	at := 0
	for i, s := range all {
		if s == me {
			at = i
		}
	}
	var out []*Server
	for k := 1; k < len(all); k++ {
		out = append(out, all[(at+k)%len(all)])
	}
	return out
}
