// Package delivery holds the delivery agents of a hub: the last stage of
// the data flow, which hands a queued message to its destination and says,
// per recipient, what happened. Every agent (mailbox, smtp, drop, pipe,
// webhook, hub relay) has the same shape, after chasquid's courier and
// maddy's delivery targets (docs/design/README.md): one call per message
// and next hop, one Result per recipient, each with its class, enhanced
// status code (RFC 3463) and, when another server answered, that server and
// its exact reply, so that reports (RFC 3464) can quote what really
// happened. The SMTP agent is an RFC 5321 client of its own (MX lookup
// with RFC 7505 null MX, PIPELINING RFC 2920, STARTTLS RFC 3207 on the
// same connection, AUTH RFC 4954, DSN RFC 3461, SMTPUTF8 RFC 6531, and
// verified TLS by DANE RFC 7672 or MTA-STS RFC 8461) whose connections a
// Pool keeps between messages.
package delivery

import (
	"context"
	"io"
	"time"
)

// Class is what became of one recipient.
type Class string

// Classes of a Result. The class alone says what the scheduler records:
// the recipient's state, its tracking event (DELIVER or SEND) and the
// action of a success notification (RFC 3464 section 2.3.3), so that no
// caller needs to know which agent it called.
const (
	// Delivered: in its final place on this hub (a mailbox). Tracked as
	// DELIVER; a success notification says "delivered".
	Delivered Class = "delivered"
	// Relayed: handed on to another system (an SMTP host, another hub, a
	// drop folder, a program, a web service). Tracked as SEND; a success
	// notification says "relayed" (RFC 3461 section 5.2.2), unless
	// NotifyPassed.
	Relayed Class = "relayed"
	Retry   Class = "retry"  // a transient failure: try again later
	Failed  Class = "failed" // a permanent failure: report it
)

// Result is the outcome for one recipient.
type Result struct {
	Class      Class
	Status     string // enhanced status code, e.g. "2.0.0", "4.4.1", "5.1.1"
	Text       string // what happened, for logs and reports
	RemoteHost string // the server that answered, if any
	RemoteText string // its reply, exactly as received, if any
	// NotifyPassed, with Relayed: the next hop reports on this recipient
	// from now on, so this hub sends no success notification: an SMTP
	// host that offered DSN and took the recipient's NOTIFY (RFC 3461
	// section 5.2.1), or another hub of the organization.
	NotifyPassed bool
	// TLS names the TLS policy that applied to the session with
	// RemoteHost, for an SMTP agent: "dane", "mta-sts enforce",
	// "mta-sts testing", "required", "opportunistic" or "none", with the
	// reason after a colon when a policy fell back ("opportunistic: no
	// TLSA records at ..."); tlspolicy.go. To another hub it is "hub"
	// (TLS always, pinned by the hub secret; hubtls.go).
	TLS string
}

// Recipient is one recipient of a delivery.
type Recipient struct {
	Type    string // address type, upper case
	Address string // address within its type
	Mailbox string // the directory mailbox, for the mailbox agent
	Folder  string // the mailbox's folder name (Mailboxes.Folder), for the mailbox agent
	Notify  string // RFC 3461 NOTIFY as received ("", "NEVER" or a comma list), for hub relay
	ORCPT   string // RFC 3461 ORCPT "type;address" decoded, for hub relay
}

// Message is what an agent delivers: the envelope of one message for the
// recipients that go to one next hop, and a way to read its content.
type Message struct {
	ID         string
	From       string // reverse path; "" is the null sender
	Recipients []Recipient
	Arrival    time.Time
	Size       int64
	EnvID      string // RFC 3461 ENVID, decoded
	Ret        string // RFC 3461 RET: "FULL", "HDRS" or ""
	// ShadowOf, for hub relay, marks the message as a shadow copy made
	// before the 250 (package shadow): "SERVER ID", written in the
	// HubAuth.ShadowHeader line.
	ShadowOf string
	Open     func() (io.ReadCloser, error)
}

// Agent delivers messages. Deliver returns exactly one Result per
// recipient, in order; it never returns early without results.
type Agent interface {
	Deliver(ctx context.Context, m *Message) []Result
}
