package routing

import (
	"fmt"
	"strings"
)

// HopKind is the kind of a next hop.
type HopKind string

// Kinds of next hop (interfaces.md section 3; docs/operations.md, "Queue
// administration", lists the queues they name).
const (
	HopMailbox     HopKind = "mailbox"     // a mailbox on Server
	HopConnector   HopKind = "connector"   // send connector Name, used from its source server Server
	HopHub         HopKind = "hub"         // another hub, Server, that routes again with its own scope
	HopUnreachable HopKind = "unreachable" // no route yet: kept queued until expiry
)

// NextHop is where a recipient goes next: the queue it waits in on a hub.
// Its String form is the queue's name, kept in queued records, the
// tracking log, metrics and queue administration: "mailbox:SERVER",
// "connector:NAME@SERVER", "hub:SERVER", "unreachable". The zero NextHop
// (a refused recipient, an expanded group, one not routed yet) is "".
type NextHop struct {
	Kind   HopKind
	Name   string // the send connector, for HopConnector
	Server string // the mailbox's home server, the connector's source server, or the next hub
}

// String is the queue name of h (see NextHop).
func (h NextHop) String() string {
	switch h.Kind {
	case "":
		return ""
	case HopUnreachable:
		return string(h.Kind)
	case HopConnector:
		return string(h.Kind) + ":" + h.Name + "@" + h.Server
	}
	return string(h.Kind) + ":" + h.Server
}

// IsZero reports whether h is no next hop.
func (h NextHop) IsZero() bool { return h == NextHop{} }

// ParseNextHop reads the String form of a next hop, as queued records,
// tracking lines and administrators' selections carry it; "" is the zero
// NextHop. A connector's name is what comes before the last "@".
func ParseNextHop(s string) (NextHop, error) {
	if s == "" {
		return NextHop{}, nil
	}
	kind, rest, _ := strings.Cut(s, ":")
	h := NextHop{Kind: HopKind(kind)}
	switch h.Kind {
	case HopUnreachable:
		if rest == "" {
			return h, nil
		}
	case HopMailbox, HopHub:
		if strings.Contains(s, ":") {
			h.Server = rest // "" only in a hop made without a server (a "hub:" queue that waits)
			return h, nil
		}
	case HopConnector:
		if i := strings.LastIndex(rest, "@"); i > 0 && i < len(rest)-1 {
			h.Name, h.Server = rest[:i], rest[i+1:]
			return h, nil
		}
	}
	return NextHop{}, fmt.Errorf("next hop %q: write mailbox:SERVER, connector:NAME@SERVER, hub:SERVER or unreachable", s)
}

// NextHop is the next hop d names on its own: the mailbox's home server,
// the connector and its source server, or unreachable; zero for a refused
// recipient or an expanded group. Whether a hub hands it to another hub
// first is the scheduler's choice (it knows which hub it is).
func (d *Decision) NextHop() NextHop {
	switch d.Outcome {
	case OutcomeMailbox:
		return NextHop{Kind: HopMailbox, Server: d.Server}
	case OutcomeConnector:
		return NextHop{Kind: HopConnector, Name: d.Connector, Server: d.SourceServer}
	case OutcomeUnreachable:
		return NextHop{Kind: HopUnreachable}
	}
	return NextHop{}
}
