package control

import (
	"time"

	"github.com/waypost/waypost/internal/tracking"
)

// Operations of protocol version 1, with their arguments and results.
const (
	OpStatus       = "status"        // no args -> Status
	OpQueueList    = "queue.list"    // Select -> QueueList (queues, or messages with Select.Messages)
	OpQueueShow    = "queue.show"    // Select{IDs: [ID]} -> MessageDetail
	OpQueueRetry   = "queue.retry"   // Select -> Action
	OpQueueHold    = "queue.hold"    // Select -> Action
	OpQueueDiscard = "queue.discard" // Select -> Action: shadows (queue shadow:HUB) given up
	OpQueueRelease = "queue.release" // Select -> Action
	OpQueueRemove  = "queue.remove"  // Select (+ NDR) -> Action
	OpQueueReroute = "queue.reroute" // Select -> Action (with Moves)
	OpQueueDump    = "queue.dump"    // Select{IDs: [ID]} -> DumpInfo, and the raw message as data
	OpReload       = "reload"        // no args -> Reload
)

// Select picks recipients of queued messages. Empty fields match
// everything; a recipient is picked when its message matches IDs, Sender
// and OlderThan and the recipient itself matches every other field. Text
// fields match case-insensitively, Sender and Recipient as substrings.
type Select struct {
	IDs       []string `json:"ids,omitempty"`        // queue IDs
	Queue     string   `json:"queue,omitempty"`      // a queue: a next hop as "queue list" names it
	Sender    string   `json:"sender,omitempty"`     // envelope sender
	Recipient string   `json:"recipient,omitempty"`  // recipient address
	Domain    string   `json:"domain,omitempty"`     // recipient domain (SMTP and encapsulated), exactly
	Type      string   `json:"type,omitempty"`       // recipient address type: SMTP, FAX, X400...
	NextHop   string   `json:"next_hop,omitempty"`   // like Queue
	State     string   `json:"state,omitempty"`      // one of the States
	OlderThan string   `json:"older_than,omitempty"` // a Go duration: messages that arrived longer ago

	Messages bool `json:"messages,omitempty"` // queue.list: list messages, not queues
	All      bool `json:"all,omitempty"`      // act on every queued message (retry, hold, release, reroute)
	NDR      bool `json:"ndr,omitempty"`      // queue.remove: fail the recipients with a report to the sender
}

// States a recipient is listed in. Only pending recipients are listed;
// "held" is one that an administrator held, "retry" one with a failed
// attempt behind it, "ready" one due now or never tried, "poison" one of a
// message in the poison queue (crashed the hub twice; held until released),
// "shadow" one kept as a shadow of a copy another hub holds (in the queue
// shadow:HUB, never attempted until that hub is lost).
var States = []string{"ready", "retry", "held", "poison", "shadow"}

// Queue is one queue of a hub: the pending recipients with one next hop.
type Queue struct {
	Queue      string    `json:"queue"`               // next hop: mailbox:SERVER, connector:NAME@SERVER, hub:SERVER, unreachable, submission; or poison
	Kind       string    `json:"kind"`                // mailbox, connector, hub, unreachable, submission, poison
	Delivery   string    `json:"delivery,omitempty"`  // for a connector: smtp, drop, pipe, webhook; for mailboxes: maildir, lmtp
	Messages   int       `json:"messages"`            // messages with a recipient here
	Recipients int       `json:"recipients"`          // pending recipients here
	Held       int       `json:"held"`                // of which held
	Oldest     time.Time `json:"oldest"`              // arrival of the oldest message
	OldestAge  Seconds   `json:"oldest_age_seconds"`  // now minus Oldest
	NextRetry  time.Time `json:"next_retry,omitzero"` // earliest next attempt of a recipient that is not held, or the queue's retry time when its next hop is in retry
	LastError  string    `json:"last_error,omitempty"`
	LastStatus string    `json:"last_status,omitempty"`
	LastTry    time.Time `json:"last_attempt,omitzero"`
}

// Seconds is a duration given in seconds in JSON.
type Seconds float64

// QueueList is the result of queue.list.
type QueueList struct {
	Server   string    `json:"server"`
	Now      time.Time `json:"now"`
	Queues   []Queue   `json:"queues,omitempty"`
	Messages []Message `json:"messages,omitempty"`
}

// Message is a queued message and its recipients (those picked).
type Message struct {
	ID         string      `json:"id"`
	From       string      `json:"from"`
	Arrival    time.Time   `json:"arrival"`
	Age        Seconds     `json:"age_seconds"`
	Size       int64       `json:"size"`
	ReceivedBy string      `json:"received_by,omitempty"`
	Auth       string      `json:"auth,omitempty"`
	EnvID      string      `json:"envid,omitempty"`
	Ret        string      `json:"ret,omitempty"`
	Poison     string      `json:"poison,omitempty"`  // why it is in the poison queue, "" when it is not
	Crashes    int         `json:"crashes,omitempty"` // consecutive crashes while it was being processed
	Recipients []Recipient `json:"recipients"`
}

// Recipient is one recipient of a queued message and where it stands.
type Recipient struct {
	Written     string    `json:"written"`
	Type        string    `json:"type"`
	Address     string    `json:"address"`
	State       string    `json:"state"` // ready, retry, held, or a final state: delivered, relayed, failed, expanded
	NextHop     string    `json:"next_hop,omitempty"`
	Notify      string    `json:"notify,omitempty"`
	Attempts    int       `json:"attempts"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastClass   string    `json:"last_class,omitempty"`
	LastStatus  string    `json:"last_status,omitempty"`
	RemoteHost  string    `json:"remote_host,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	// TLS is the TLS policy of the last attempt's SMTP session: "dane",
	// "mta-sts enforce", "mta-sts testing", "required", "opportunistic"
	// or "none", with the reason after a colon when a policy fell back.
	TLS string `json:"tls,omitempty"`
}

// MessageDetail is the result of queue.show: the message, every
// recipient, and the tracking log's events for it (the history of its
// attempts), oldest first.
type MessageDetail struct {
	Message
	History []tracking.Event `json:"history"`
}

// Action is the result of retry, hold, release, remove and reroute.
type Action struct {
	Action     string   `json:"action"`
	Messages   []string `json:"messages"`          // IDs acted on
	Recipients int      `json:"recipients"`        // recipients changed
	Skipped    []string `json:"skipped,omitempty"` // why some were left alone
	Reports    []string `json:"reports,omitempty"` // remove --ndr: IDs of the reports queued
	Moves      []Move   `json:"moves,omitempty"`   // reroute: recipients whose next hop changes
}

// Move is a recipient that a reroute sends to another next hop.
type Move struct {
	ID        string `json:"id"`
	Recipient string `json:"recipient"`
	From      string `json:"from"`
	To        string `json:"to"`
}

// DumpInfo precedes the raw message of queue.dump.
type DumpInfo struct {
	ID   string `json:"id"`
	Size int64  `json:"size"`
}

// AddrTypes is the address-type list of a site as the hub serves it
// (interfaces.md section 4).
type AddrTypes struct {
	Site    string   `json:"site"`
	Types   []string `json:"types"`
	Version string   `json:"version"`
}

// Status is the result of status.
type Status struct {
	Server       string      `json:"server"`
	PID          int         `json:"pid"`
	Started      time.Time   `json:"started"`
	File         string      `json:"config_file,omitempty"`
	ConfigLoaded time.Time   `json:"config_loaded"`
	ConfigDigest string      `json:"config_digest,omitempty"` // sha256 of the file in force
	AddressTypes []AddrTypes `json:"address_types"`
}

// Reload is the result of reload: applied, with what changed, or
// refused (then the call fails with CodeInvalid and every error).
type Reload struct {
	Server          string      `json:"server"`
	File            string      `json:"config_file"`
	Changed         bool        `json:"changed"`                    // false: the file is the one in force
	Changes         []string    `json:"changes,omitempty"`          // what the new file changes, in words
	RestartRequired []string    `json:"restart_required,omitempty"` // changes that apply only after a restart
	AddressTypes    []AddrTypes `json:"address_types"`
	TypesChanged    []string    `json:"address_types_changed,omitempty"` // sites whose list (and version) changed
}
