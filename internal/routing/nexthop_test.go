package routing

import "testing"

// Every next hop reads back from its String form, which is the queue name
// that records written by earlier versions carry.
func TestNextHopString(t *testing.T) {
	for _, c := range []struct {
		hop  NextHop
		name string
	}{
		{NextHop{}, ""},
		{NextHop{Kind: HopMailbox, Server: "hub1"}, "mailbox:hub1"},
		{NextHop{Kind: HopConnector, Name: "Internet", Server: "hub1"}, "connector:Internet@hub1"},
		{NextHop{Kind: HopConnector, Name: "fax@gw", Server: "hub2"}, "connector:fax@gw@hub2"},
		{NextHop{Kind: HopHub, Server: "hub-branch"}, "hub:hub-branch"},
		{NextHop{Kind: HopUnreachable}, "unreachable"},
		{NextHop{Kind: HopHub}, "hub:"}, // no hub to hand it to: waits
	} {
		if got := c.hop.String(); got != c.name {
			t.Errorf("%+v: String %q, want %q", c.hop, got, c.name)
		}
		back, err := ParseNextHop(c.name)
		if err != nil || back != c.hop {
			t.Errorf("ParseNextHop(%q) = %+v, %v, want %+v", c.name, back, err, c.hop)
		}
	}
	for _, bad := range []string{"mailbox", "hub", "connector:Internet", "connector:@hub1", "connector:Internet@", "unreachable:x", "queue:x"} {
		if h, err := ParseNextHop(bad); err == nil {
			t.Errorf("ParseNextHop(%q) = %+v, want an error", bad, h)
		}
	}
}

func TestDecisionNextHop(t *testing.T) {
	for _, c := range []struct {
		d    Decision
		want string
	}{
		{Decision{Outcome: OutcomeMailbox, Server: "hub2"}, "mailbox:hub2"},
		{Decision{Outcome: OutcomeConnector, Connector: "Internet", SourceServer: "hub1"}, "connector:Internet@hub1"},
		{Decision{Outcome: OutcomeUnreachable}, "unreachable"},
		{Decision{Outcome: OutcomeNDR}, ""},
		{Decision{Outcome: OutcomeExpanded}, ""},
	} {
		if got := c.d.NextHop().String(); got != c.want {
			t.Errorf("%s: %q, want %q", c.d.Outcome, got, c.want)
		}
	}
}
