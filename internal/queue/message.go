package queue

import (
	"slices"
	"time"
)

// State is where a recipient stands. Every state but Pending and Shadowed
// is final.
type State string

// Recipient states.
const (
	Pending   State = "pending"   // still to be delivered (or retried)
	Delivered State = "delivered" // final delivery done (DSN action "delivered")
	Relayed   State = "relayed"   // handed to a system outside (DSN action "relayed")
	Failed    State = "failed"    // permanent failure or expiry; NDR due
	Expanded  State = "expanded"  // a group, replaced by its members (DSN action "expanded")
	// Shadowed: another hub (Recipient.Shadow) holds the primary copy
	// under Recipient.ShadowID; this hub keeps the message, never
	// attempting it, until that hub reports it delivered onward (then
	// Relayed) or is lost (then Pending again). Package shadow,
	// docs/design/shadow.md.
	Shadowed State = "shadowed"
)

// Final reports whether nothing more will be done for a recipient in state s.
func (s State) Final() bool { return s != Pending && s != Shadowed }

// Result classes.
const (
	ClassDelivered = "delivered"
	ClassRelayed   = "relayed"
	ClassRetry     = "retry" // transient failure: retry per Schedule
	ClassFailed    = "failed"
)

// Result is the outcome of one delivery attempt for one recipient.
type Result struct {
	Class      string `json:"class"`                 // ClassDelivered, ClassRelayed, ClassRetry or ClassFailed
	Status     string `json:"status,omitempty"`      // enhanced status code, e.g. "4.4.1"
	RemoteHost string `json:"remote_host,omitempty"` // the host (or gateway) that answered
	RemoteText string `json:"remote_text,omitempty"` // its reply, for the NDR
	TLS        string `json:"tls,omitempty"`         // the TLS policy of the SMTP session (delivery.Result.TLS)
}

// Recipient is one recipient of a queued message and its delivery state.
type Recipient struct {
	Written       string    `json:"written"`                  // as the sender wrote it (for NDRs)
	Type          string    `json:"type"`                     // address type, upper case: SMTP, FAX, X400...
	Address       string    `json:"address"`                  // the address without its type
	ORCPT         string    `json:"orcpt,omitempty"`          // RFC 3461 original recipient "type;value", "" if none
	Notify        string    `json:"notify,omitempty"`         // "", "NEVER" or a comma list of SUCCESS,FAILURE,DELAY
	NextHop       string    `json:"next_hop,omitempty"`       // queue name from routing, recomputed at each attempt
	State         State     `json:"state"`                    // Pending when added
	Attempts      int       `json:"attempts,omitempty"`       // attempts made (recorded with their result)
	NextAttempt   time.Time `json:"next_attempt,omitzero"`    // zero: as soon as possible
	LastAttempt   time.Time `json:"last_attempt,omitzero"`    // start of the last attempt
	Last          Result    `json:"last,omitzero"`            // result of the last attempt
	DelayNotified bool      `json:"delay_notified,omitempty"` // a delay DSN was sent
	Held          bool      `json:"held,omitempty"`           // held by an administrator: never attempted, never expires, until released
	BackoffFrom   int       `json:"backoff_from,omitempty"`   // Attempts when an administrator reset the backoff: Schedule counts from there
	Shadow        string    `json:"shadow,omitempty"`         // Shadowed: the hub holding the primary copy
	ShadowID      string    `json:"shadow_id,omitempty"`      // Shadowed: the message's queue ID on that hub
	ShadowSince   time.Time `json:"shadow_since,omitzero"`    // Shadowed: when this hub began to keep the shadow
}

// Envelope is what the queue knows of a message besides its content.
type Envelope struct {
	From       string      `json:"from"`                  // reverse path, "" for the null sender
	Recipients []Recipient `json:"recipients"`            // at least one
	EnvID      string      `json:"envid,omitempty"`       // RFC 3461 ENVID
	Ret        string      `json:"ret,omitempty"`         // RFC 3461 RET: "FULL", "HDRS" or ""
	Arrival    time.Time   `json:"arrival"`               // when the message was accepted
	ReceivedBy string      `json:"received_by,omitempty"` // receive connector (or "api", "ndr"...)
	Auth       string      `json:"auth,omitempty"`        // authenticated submitter, "" if none
}

// Message is a queued message: its ID, envelope and content size.
type Message struct {
	ID string `json:"id"`
	Envelope
	Size int64 `json:"size"` // bytes of content

	// Crashes counts the consecutive crashes (of the process, or a panic
	// of its worker) while the message was being processed; an attempt
	// that ends normally sets it back to 0.
	Crashes int `json:"crashes,omitempty"`
	// Poison, when not "", says why the message is in the poison queue
	// (Exchange's poison message queue, PoisonThreshold 2): never
	// attempted nor expired until an administrator releases or removes it.
	Poison string `json:"poison,omitempty"`
}

// Clone returns a copy of m that shares nothing with it that a change
// of state touches (the recipients are copied).
func (m *Message) Clone() *Message {
	c := *m
	c.Recipients = slices.Clone(m.Recipients)
	return &c
}

// Done reports whether every recipient is final: the message may be
// removed once its notifications (DSN, NDR) are queued.
func (m *Message) Done() bool {
	for _, r := range m.Recipients {
		if !r.State.Final() {
			return false
		}
	}
	return true
}
