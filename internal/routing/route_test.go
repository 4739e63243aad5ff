package routing

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestConnectorChoice is exchange-semantics.md section 8.2.
func TestConnectorChoice(t *testing.T) {
	org := twoSites +
		connector("C1", "SMTP:*;1", "HubA2") +
		connector("C2", "SMTP:*.contoso.com;5", "HubA2", `max_message_size = "10MB"`) +
		connector("C3", "SMTP:marketing.contoso.com;50", "HubA2")
	e := newEngine(t, org)
	tests := []struct {
		rcpt string
		size int64
		want string
	}{
		{"julia@marketing.contoso.com", 0, "C3"},
		{"bob@sales.contoso.com", 0, "C2"},
		{"bob@contoso.com", 0, "C2"},
		{"bob@fabrikam.com", 0, "C1"},
		{"bob@contoso.com", 12_000_000, "C1"},
	}
	for _, tc := range tests {
		d := e.Route("HubA1", tc.rcpt, tc.size, false)
		if d.Outcome != OutcomeConnector || d.Connector != tc.want {
			t.Errorf("%s (%d bytes): %s %s %s, want connector %s", tc.rcpt, tc.size, d.Outcome, d.Connector, d.Reason, tc.want)
		}
	}
	disabled := newEngine(t, twoSites+
		connector("C1", "SMTP:*;1", "HubA2")+
		connector("C2", "SMTP:*.contoso.com;5", "HubA2")+
		connector("C3", "SMTP:marketing.contoso.com;50", "HubA2", "enabled = false"))
	if d := disabled.Route("HubA1", "julia@marketing.contoso.com", 0, false); d.Connector != "C2" {
		t.Errorf("C3 disabled: got %s, want C2", d.Connector)
	}
}

// TestCostProximityNameScope is exchange-semantics.md section 8.3.
func TestCostProximityNameScope(t *testing.T) {
	tests := []struct {
		name, conns, server, rcpt string
		outcome                   Outcome
		want, status              string
		cost                      int
	}{
		{"local site beats lower cost", connector("X", "*;10", "HubA2") + connector("Y", "*;1", "HubB1"), "HubA1", "a@fabrikam.test", OutcomeConnector, "X", "", 10},
		{"same, from B", connector("X", "*;10", "HubA2") + connector("Y", "*;1", "HubB1"), "HubB1", "a@fabrikam.test", OutcomeConnector, "Y", "", 1},
		{"5 beats 10+1", connector("X", "*;5", "HubA2") + connector("Y", "*;1", "HubB1"), "HubA1", "a@fabrikam.test", OutcomeConnector, "X", "", 5},
		{"local server first", connector("P", "*;1", "HubA1") + connector("Q", "*;1", "HubA2"), "HubA1", "a@fabrikam.test", OutcomeConnector, "P", "", 1},
		{"local server first, whatever the names", connector("A", "*;1", "HubA2") + connector("Z", "*;1", "HubA1"), "HubA1", "a@fabrikam.test", OutcomeConnector, "Z", "", 1},
		{"lowest name", connector("Beta", "*;1", "HubA2") + connector("Alpha", "*;1", "HubA2"), "HubA1", "a@fabrikam.test", OutcomeConnector, "Alpha", "", 1},
		{"scoped fax from its site", connector("F", "FAX:*;1", "HubB1", "scoped = true"), "HubB1", "FAX:+15551234", OutcomeConnector, "F", "", 1},
		{"scoped fax from elsewhere", connector("F", "FAX:*;1", "HubB1", "scoped = true"), "HubA1", "FAX:+15551234", OutcomeNDR, "", "5.4.4", 0},
		{"scoped SMTP from elsewhere is unreachable", connector("S", "contoso.com;1", "HubB1", "scoped = true"), "HubA1", "a@contoso.com", OutcomeUnreachable, "", "4.4.7", 0},
		{"unscoped fax from elsewhere", connector("F", "FAX:*;1", "HubB1"), "HubA1", "[FAX:+15551234]", OutcomeConnector, "F", "", 11},
		{"RTM Local: prefix scopes", connector("F", "Local:FAX:*;1", "HubB1"), "HubA1", "FAX:+15551234", OutcomeNDR, "", "5.4.4", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, twoSites+tc.conns)
			d := e.Route(tc.server, tc.rcpt, 0, false)
			if d.Outcome != tc.outcome || d.Connector != tc.want || d.Status != tc.status || d.Cost != tc.cost {
				t.Errorf("got %s %q status %q cost %d (%s); want %s %q status %q cost %d", d.Outcome, d.Connector, d.Status, d.Cost, d.Reason, tc.outcome, tc.want, tc.status, tc.cost)
			}
		})
	}
}

func TestSizeForEveryConnector(t *testing.T) {
	e := newEngine(t, twoSites+connector("F", "FAX:*;1", "HubA2", `max_message_size = "1MB"`))
	d := e.Route("HubA1", "[FAX:+1 555 0100]", 2_000_000, false)
	if d.Outcome != OutcomeNDR || d.Status != "5.3.4" {
		t.Errorf("too big for every connector: %+v", d)
	}
}

func TestDecisionJSON(t *testing.T) {
	e := newEngine(t, twoSites+connector("Branch Fax", "FAX:*;1", "HubB1", "scoped = true"))
	d := e.Route("HubB1", "[FAX:+1 555 0100]", 0, false)
	got, _ := json.Marshal(d)
	want := `{"recipient":"[FAX:+1 555 0100]","type":"FAX","address":"+1 555 0100","outcome":"connector","connector":"Branch Fax","source_server":"HubB1","site_path":["B"],"cost":1}`
	if string(got) != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
	d = e.Route("HubA1", "[SMS:+1 555 0101]", 0, false)
	got, _ = json.Marshal(d)
	want = `{"recipient":"[SMS:+1 555 0101]","type":"SMS","address":"+1 555 0101","outcome":"ndr","status":"5.4.4","reason":"no connector for address type SMS in scope for HubA1"}`
	if string(got) != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
}

func TestExplain(t *testing.T) {
	e := newEngine(t, twoSites+
		connector("Fax B", "FAX:*;1", "HubB1", "scoped = true")+
		connector("Fax A", "FAX:+1*;5", "HubA2")+
		connector("Fax Any", "FAX:*;1", "HubA2")+
		connector("Off", "FAX:*;1", "HubA2", "enabled = false")+
		connector("Small", "FAX:*;1", "HubA2", `max_message_size = "1KB"`)+
		connector("Mail", "SMTP:*;1", "HubA2"))
	d := e.Route("HubA1", "FAX:+1 555 0100", 5000, true)
	if d.Connector != "Fax A" {
		t.Fatalf("chose %q, want the more specific Fax A", d.Connector)
	}
	reasons := map[string]string{}
	kept := 0
	for _, c := range d.Explain {
		reasons[c.Connector] = c.Reason
		if c.Kept {
			kept++
		}
	}
	if kept != 1 || len(d.Explain) != 6 {
		t.Fatalf("explain lists %d connectors, %d kept: %+v", len(d.Explain), kept, d.Explain)
	}
	for name, frag := range map[string]string{
		"Fax A":   "chosen",
		"Fax B":   "scoped to site B",
		"Fax Any": "less specific",
		"Off":     "disabled",
		"Small":   "over the connector's limit",
		"Mail":    "no address space matches",
	} {
		if !strings.Contains(reasons[name], frag) {
			t.Errorf("%s: reason %q does not say %q", name, reasons[name], frag)
		}
	}
}

const people = `
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "HubA1"
addresses = ["SMTP:alice@contoso.test", "smtp:a@contoso.test", "FAX:+1 555 0100", "X500:/o=Contoso/ou=A/cn=alice"]
[[recipient]]
kind = "mailbox"
name = "Bob"
server = "HubB1"
addresses = ["SMTP:bob@contoso.test"]
[[recipient]]
kind = "contact"
name = "Legal Fax"
addresses = ["SMTP:legalfax@contoso.test"]
target = "FAX:+1 555 0199"
[[recipient]]
kind = "group"
name = "Sales"
addresses = ["SMTP:sales@contoso.test"]
members = ["alice@contoso.test", "a@contoso.test", "bob@contoso.test", "legalfax@contoso.test", "inner@contoso.test", "carol@fabrikam.test"]
[[recipient]]
kind = "group"
name = "Inner"
addresses = ["SMTP:inner@contoso.test"]
members = ["sales@contoso.test", "alice@contoso.test"]
[[recipient]]
kind = "contact"
name = "Loop 1"
addresses = ["SMTP:loop1@contoso.test"]
target = "loop2@contoso.test"
[[recipient]]
kind = "contact"
name = "Loop 2"
addresses = ["SMTP:loop2@contoso.test"]
target = "loop1@contoso.test"
`

func TestDirectoryResolution(t *testing.T) {
	e := newEngine(t, twoSites+people+connector("Fax", "FAX:*;1", "HubB1")+connector("Internet", "SMTP:*;1", "HubA2"))
	check := func(rcpt string, outcome Outcome, field func(Decision) string, want string) {
		t.Helper()
		d := e.Route("HubA1", rcpt, 0, false)
		if d.Outcome != outcome || field(d) != want {
			b, _ := json.Marshal(d)
			t.Errorf("%s: %s", rcpt, b)
		}
	}
	mailbox := func(d Decision) string { return d.Mailbox + "@" + d.Server + " " + strings.Join(d.SitePath, ">") }
	check("alice@contoso.test", OutcomeMailbox, mailbox, "Alice@HubA1 A")
	check("\"Alice\" <A@CONTOSO.TEST>", OutcomeMailbox, mailbox, "Alice@HubA1 A")
	check("bob@contoso.test", OutcomeMailbox, mailbox, "Bob@HubB1 A>B")
	check("[FAX:+1 555 0100]", OutcomeMailbox, mailbox, "Alice@HubA1 A")
	check("FAX:+15550100", OutcomeMailbox, mailbox, "Alice@HubA1 A")
	check("EX:/o=Contoso/ou=A/cn=alice", OutcomeMailbox, mailbox, "Alice@HubA1 A")
	check("IMCEAEX-_o=Contoso_ou=A_cn=alice@contoso.test", OutcomeMailbox, mailbox, "Alice@HubA1 A")
	check("IMCEAFAX-+2B1+20555+200100@contoso.test", OutcomeMailbox, mailbox, "Alice@HubA1 A")
	check("EX:/o=Contoso/ou=A/cn=nobody", OutcomeNDR, func(d Decision) string { return d.Status + " " + d.Reason }, "5.1.1 RESOLVER.ADR.ExRecipNotFound; not found")
	check("nobody@contoso.test", OutcomeNDR, func(d Decision) string { return d.Status + " " + d.Reason }, "5.1.1 RESOLVER.ADR.RecipNotFound; not found")
	check("IMCEASMTP-a+40b.com@contoso.test", OutcomeNDR, func(d Decision) string { return d.Status }, "5.1.0")
	check("legalfax@contoso.test", OutcomeConnector, func(d Decision) string { return d.Contact + " " + d.Target + " " + d.Connector }, "Legal Fax FAX:+1 555 0199 Fax")
	check("loop1@contoso.test", OutcomeNDR, func(d Decision) string { return d.Status }, "5.4.6")
	check("IMCEAFAX-+2B1555@fabrikam.test", OutcomeConnector, func(d Decision) string { return d.Type + " " + d.Connector }, "SMTP Internet")

	d := e.Route("HubA1", "sales@contoso.test", 0, false)
	if d.Outcome != OutcomeExpanded {
		t.Fatalf("group: %+v", d)
	}
	var got []string
	for _, m := range d.Members {
		got = append(got, m.Recipient+"="+string(m.Outcome))
	}
	want := []string{"alice@contoso.test=mailbox", "bob@contoso.test=mailbox", "legalfax@contoso.test=connector", "carol@fabrikam.test=connector"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("group members\n got %v\nwant %v (each member once, nested group flattened, loop broken)", got, want)
	}
}

func TestUnknownServer(t *testing.T) {
	e := newEngine(t, twoSites)
	if d := e.Route("nope", "a@b.test", 0, false); d.Outcome != OutcomeNDR || !strings.Contains(d.Reason, "unknown routing server") {
		t.Errorf("%+v", d)
	}
}

func TestNoPathToSourceSite(t *testing.T) {
	e := newEngine(t, strings.Replace(twoSites, "[[site_link]]\nname = \"A-B\"\nsites = [\"A\", \"B\"]\ncost = 10\n", "", 1)+
		connector("Far", "SMTP:*;1", "HubB1"))
	d := e.Route("HubA1", "x@fabrikam.test", 0, true)
	if d.Outcome != OutcomeUnreachable || !strings.Contains(d.Explain[0].Reason, "no site path") {
		t.Errorf("%+v", d)
	}
}
