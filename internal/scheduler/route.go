package scheduler

import (
	"fmt"
	"strings"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/status"
	"github.com/waypost/waypost/internal/tracking"
)

// routed notes how r was resolved and routed, when that is new: on the
// first pass, and again when a configuration change reroutes it.
func (j *job) routed(m *queue.Message, r *queue.Recipient, d *routing.Decision) {
	if res := resolved(d); res != "" {
		j.note(tracking.Event{Event: tracking.Resolve, ID: m.ID, Sender: m.From, Recipient: TrackedAs(r), Detail: res})
	}
	if r.NextHop == "" {
		return // an NDR or a group: FAIL and EXPAND say what happened
	}
	detail := string(d.Outcome)
	if len(d.SitePath) > 0 {
		detail += " via sites " + strings.Join(d.SitePath, ">")
	}
	if d.Cost > 0 {
		detail += fmt.Sprintf(", cost %d", d.Cost)
	}
	if len(d.Hubs) > 1 {
		hop, _ := routing.ParseNextHop(r.NextHop)
		detail += fmt.Sprintf(", hub %s of %s", hop.Server, strings.Join(d.Hubs, ", "))
	}
	j.note(tracking.Event{Event: tracking.Route, ID: m.ID, Sender: m.From, Recipient: TrackedAs(r), NextHop: r.NextHop, Connector: d.Connector, Detail: detail})
}

// resolved says which directory entry d resolved to, or "" when the
// recipient is not in the directory.
func resolved(d *routing.Decision) string {
	switch {
	case d.Mailbox != "":
		return "mailbox " + d.Mailbox + " on " + d.Server
	case d.Contact != "":
		return "contact " + d.Contact + " -> " + d.Target
	}
	return ""
}

// recipientSet is the recipients of a message, by address and by the
// directory entry they resolve to: Exchange delivers a message once to a
// recipient however often, and by whichever address, it is named.
type recipientSet struct {
	eng     *routing.Engine
	keys    map[string]bool
	entries map[any]bool // Entry.Ident
}

func newRecipientSet(eng *routing.Engine, m *queue.Message) *recipientSet {
	rs := &recipientSet{eng: eng, keys: map[string]bool{}, entries: map[any]bool{}}
	for _, r := range m.Recipients {
		rs.add(r.Type, r.Address)
	}
	return rs
}

// add adds a recipient and reports whether it was new.
func (rs *recipientSet) add(typ, addr string) bool {
	a := address.Address{Type: typ, Value: addr}
	k := a.Key()
	ent := rs.eng.Directory().Lookup(a)
	if rs.keys[k] || ent != nil && rs.entries[ent.Ident()] {
		return false
	}
	rs.keys[k] = true
	if ent != nil {
		rs.entries[ent.Ident()] = true
	}
	return true
}

// hopOf is the next hop this hub gives d: another hub when d goes on
// through one, the first of routing's equivalent hubs (the process of a
// message puts its own choice among them in its place, balance.go; with
// no hub to hand it to, the "hub:" queue, where it waits), otherwise the
// decision's own.
func (s *Scheduler) hopOf(d *routing.Decision) routing.NextHop {
	switch {
	case len(d.Hubs) > 0:
		return routing.NextHop{Kind: routing.HopHub, Server: d.Hubs[0]}
	case remoteHub(d, s.Server):
		return routing.NextHop{Kind: routing.HopHub}
	}
	return d.NextHop()
}

// remoteHub reports whether d goes on through another hub: a mailbox on
// another server, or a send connector whose source server is another.
func remoteHub(d *routing.Decision, self string) bool {
	switch d.Outcome {
	case routing.OutcomeMailbox:
		return !strings.EqualFold(d.Server, self)
	case routing.OutcomeConnector:
		return !strings.EqualFold(d.SourceServer, self)
	}
	return false
}

// destination is the address an agent delivers d to: the recipient's
// own, or for a contact the target at the end of its chain (routing keeps
// the address the contact was named by in d, and its first target).
func destination(eng *routing.Engine, server string, d *routing.Decision, size int64) (typ, addr string) {
	typ, addr = d.Type, d.Address
	for i, t := 0, d; t.Target != "" && i < 32; i++ {
		tt, ta, ok := strings.Cut(t.Target, ":")
		if !ok {
			break
		}
		typ, addr = tt, ta
		next := eng.RouteAddress(server, address.Address{Type: tt, Value: ta}, size, false)
		t = &next
	}
	return typ, addr
}

// noConnectorText is Exchange's diagnostic for a type no connector in
// scope takes (exchange-semantics.md section 8.9).
const noConnectorText = "ROUTING.NoConnectorForAddressType; unable to route for address type"

// ndrText is the diagnostic a report carries for a recipient routing
// refuses.
func ndrText(d *routing.Decision) string {
	if d.Status == status.Unroutable && !strings.EqualFold(d.Type, "SMTP") {
		return noConnectorText
	}
	return d.Reason
}

func deferReason(d *routing.Decision) string {
	switch d.Outcome {
	case routing.OutcomeUnreachable:
		return d.Reason
	case routing.OutcomeMailbox:
		return "mailbox on " + d.Server + ": no relay to that hub (it has no relay listener, or there is no hub secret); kept queued"
	case routing.OutcomeConnector:
		if d.SourceServer != "" {
			return "send connector " + d.Connector + " on " + d.SourceServer + ": no relay to that hub (it has no relay listener, or there is no hub secret); kept queued"
		}
	}
	return "kept queued"
}
