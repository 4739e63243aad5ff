package routing

// Outcome is what routing decided for a recipient.
type Outcome string

// Outcomes (interfaces.md section 3).
const (
	OutcomeMailbox     Outcome = "mailbox"     // deliver to a mailbox on Server
	OutcomeConnector   Outcome = "connector"   // hand to Connector at SourceServer
	OutcomeExpanded    Outcome = "expanded"    // a group: see Members
	OutcomeUnreachable Outcome = "unreachable" // SMTP with no route: queue until expiry
	OutcomeNDR         Outcome = "ndr"         // refuse now with Status
)

// Decision is the routing of one recipient; its JSON form is the output of
// `waypost route` and of the API's resolve call.
type Decision struct {
	Recipient    string  `json:"recipient"` // as given
	Type         string  `json:"type"`      // address type, upper case
	Address      string  `json:"address"`   // address within its type
	Outcome      Outcome `json:"outcome"`
	Mailbox      string  `json:"mailbox,omitempty"` // mailbox display name
	Server       string  `json:"server,omitempty"`  // mailbox home server
	Contact      string  `json:"contact,omitempty"` // contact the recipient resolved to
	Target       string  `json:"target,omitempty"`  // that contact's target, TYPE:address
	Connector    string  `json:"connector,omitempty"`
	SourceServer string  `json:"source_server,omitempty"`
	// SourceServers are the connector's source servers as good as
	// SourceServer, when there are several (every one in SourceServer's
	// site), SourceServer first; empty when SourceServer has no equal.
	SourceServers []string `json:"source_servers,omitempty"`
	// Hubs are the servers the routing server may hand the recipient
	// to, equivalent, the single choice first (hubs.go): the relay-capable
	// servers of the next hub site, or the destination's. Empty when the
	// routing server delivers itself. The scheduler picks one per message.
	Hubs []string `json:"hubs,omitempty"`
	// HubsReason says, with --explain, where Hubs come from and how one
	// is picked.
	HubsReason string      `json:"hubs_reason,omitempty"`
	SitePath   []string    `json:"site_path,omitempty"`   // routing server's site .. destination site
	RelaySites []string    `json:"relay_sites,omitempty"` // hub sites on SitePath that mail passes through
	Cost       int         `json:"cost,omitempty"`        // aggregate cost of the chosen connector
	Members    []Decision  `json:"members,omitempty"`     // expanded groups: every member once
	Status     string      `json:"status,omitempty"`      // enhanced status code for ndr and unreachable
	Reason     string      `json:"reason,omitempty"`
	Explain    []Candidate `json:"explain,omitempty"`
}

// Candidate is one send connector as seen by one decision, for --explain.
type Candidate struct {
	Connector    string `json:"connector"`
	AddressSpace string `json:"address_space,omitempty"` // the best matching space
	Kept         bool   `json:"kept"`
	Reason       string `json:"reason"`
}

// Delivered reports whether the decision lets the message go on (it is not
// refused at once). Unreachable SMTP recipients are kept and retried, so
// they count as going on; an expanded group counts when any member does.
func (d *Decision) Delivered() bool {
	switch d.Outcome {
	case OutcomeNDR:
		return false
	case OutcomeExpanded:
		for i := range d.Members {
			if d.Members[i].Delivered() {
				return true
			}
		}
		return false
	}
	return true
}
