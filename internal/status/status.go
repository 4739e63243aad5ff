// Package status names the enhanced status codes (RFC 3463, "Enhanced
// Mail System Status Codes"; the registry of RFC 5248) that Waypost gives
// in replies, delivery results, queue records and reports, each with its
// RFC meaning and where Waypost uses it (exchange-semantics.md section
// 5.2 lists Exchange's use of them). A code is "class.subject.detail":
// class 2 success, 4 persistent transient failure, 5 permanent failure.
//
// The constants are untyped strings, so that they go wherever a status is
// a string (routing.Decision, delivery.Result, queue.Result, reports).
// SMTP reply codes (250, 451, 550...) are not here: the receive side keeps
// each reply whole, code and text with its enhanced code, in
// internal/smtpd/replies.go.
package status

// Success.
const (
	// OK is 2.0.0, "Other undefined Status" of class success: delivered,
	// relayed or expanded.
	OK = "2.0.0"
)

// Any subject: the class alone (RFC 3463 section 3.1, X.0.0), for a
// reply that carried no enhanced code (report/fields.go).
const (
	TransientOther = "4.0.0" // 4.0.0 Other undefined Status, transient
	PermanentOther = "5.0.0" // 5.0.0 Other undefined Status, permanent
)

// Addressing status (RFC 3463 section 3.2, X.1.X).
const (
	// BadAddress is 5.1.0 "Other address status": an address that
	// cannot be decoded (a broken IMCEA encapsulation).
	BadAddress = "5.1.0"
	// BadMailbox is 5.1.1 "Bad destination mailbox address": no such
	// recipient in the organization.
	BadMailbox = "5.1.1"
	// BadSystem is 5.1.2 "Bad destination system address": the
	// recipient's domain does not exist.
	BadSystem = "5.1.2"
	// BadMailboxSyntax is 5.1.3 "Bad destination mailbox address
	// syntax".
	BadMailboxSyntax = "5.1.3"
	// BadSenderSyntax is 5.1.7 "Bad sender's mailbox address syntax".
	BadSenderSyntax = "5.1.7"
	// NullMX is 5.1.10 "Recipient address has null MX" (RFC 7505
	// section 4.2).
	NullMX = "5.1.10"
)

// Mailbox status (RFC 3463 section 3.3, X.2.X).
const (
	// MailboxOther is 5.2.0 "Other or undefined mailbox status": a
	// contact with no target.
	MailboxOther = "5.2.0"
	// MailboxFull is 5.2.2 "Mailbox full".
	MailboxFull = "5.2.2"
	// MessageOverMailboxLimit is 5.2.3 "Message length exceeds
	// administrative limit".
	MessageOverMailboxLimit = "5.2.3"
)

// Mail system status (RFC 3463 section 3.4, X.3.X).
const (
	// SystemTransient is 4.3.0 "Other or undefined mail system status",
	// transient: a local error (a disk, a queued message that cannot be
	// read, a program that asked to try again).
	SystemTransient = "4.3.0"
	// SystemPermanent is 5.3.0 "Other or undefined mail system status",
	// permanent: a gateway that refused the message, a message removed by
	// an administrator with a report.
	SystemPermanent = "5.3.0"
	// NotAccepting is 4.3.2 "System not accepting network messages":
	// the hub is stopping.
	NotAccepting = "4.3.2"
	// MessageTooBig is 5.3.4 "Message too big for system".
	MessageTooBig = "5.3.4"
	// Misconfigured is 5.3.5 "System incorrectly configured".
	Misconfigured = "5.3.5"
	// MisconfiguredTransient is 4.3.5, the same while an administrator
	// may still fix it (a program that cannot be run, a missing token).
	MisconfiguredTransient = "4.3.5"
)

// Network and routing status (RFC 3463 section 3.5, X.4.X).
const (
	// RoutingTransient is 4.4.0 "Other or undefined network or routing
	// status": kept queued, to be routed again.
	RoutingTransient = "4.4.0"
	// NoAnswer is 4.4.1 "No answer from host".
	NoAnswer = "4.4.1"
	// BadConnection is 4.4.2 "Bad connection".
	BadConnection = "4.4.2"
	// DirectoryDown is 4.4.3 "Directory server failure": DNS, or the
	// directory (LDAP) that resolves recipients.
	DirectoryDown = "4.4.3"
	// Unroutable is 5.4.4 "Unable to route": no connector takes the
	// address type (Exchange's ROUTING.NoConnectorForAddressType).
	Unroutable = "5.4.4"
	// Loop is 5.4.6 "Routing loop detected": too many Received fields,
	// or contacts and groups that lead back to themselves.
	Loop = "5.4.6"
	// LoopTransient is 4.4.6, a loop seen on a connection (a next hop
	// that greets with this hub's own name), retried.
	LoopTransient = "4.4.6"
	// Expired is 4.4.7 "Delivery time expired": Exchange gives it in the
	// non-delivery report of an expired message, and as the status of a
	// delay notice or of an unreachable recipient.
	Expired = "4.4.7"
)

// Security or policy status (RFC 3463 section 3.8, X.7.X).
const (
	// SecurityTransient is 4.7.0 "Other or undefined security status",
	// transient: a smart host that needs TLS or refused the login.
	SecurityTransient = "4.7.0"
	// NotAuthorized is 5.7.1 "Delivery not authorized, message refused".
	NotAuthorized = "5.7.1"
)
