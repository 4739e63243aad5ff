// Package status names the enhanced status codes (RFC 3463, "Enhanced
// Mail System Status Codes"; the registry of RFC 5248) that Waypost gives
// in replies, delivery results, queue records and reports, each with its
// RFC meaning and where Waypost uses it (exchange-semantics.md section
// 5.2 lists Exchange's use of them). A code is "class.subject.detail":
// class 2 success, 4 persistent transient failure, 5 permanent failure.
//
// The enhanced codes are untyped string constants, so that they go
// wherever a status is a string (routing.Decision, delivery.Result,
// queue.Result, reports); Parts splits one for go-smtp. The basic SMTP
// reply codes (RFC 5321 section 4.2.3; 530, 535, 538 and 454 from RFC
// 4954) are named here too, as Reply constants, after mox's smtp package.
package status

import (
	"strconv"
	"strings"
)

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
	// DestinationValid is 2.1.5 "Destination address valid": a recipient
	// given twice, accepted once.
	DestinationValid = "2.1.5"
)

// Addressing failures.
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

// Mail system status, transient: the disk.
const (
	// SystemFull is 4.3.1 "Mail system full": the queue's file system is
	// nearly full.
	SystemFull = "4.3.1"
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

// Mail delivery protocol status (RFC 3463 section 3.6, X.5.X).
const (
	// TooManyRecipients is 4.5.3 "Too many recipients": the rest go in
	// another transaction (RFC 5321 section 4.5.3.1.10).
	TooManyRecipients = "4.5.3"
	// ProtocolOther is 5.5.0 "Other or undefined protocol status": a
	// pipelining synchronization error.
	ProtocolOther = "5.5.0"
	// InvalidCommand is 5.5.1 "Invalid command": out of sequence, or not
	// available here.
	InvalidCommand = "5.5.1"
	// SyntaxError is 5.5.2 "Syntax error": a bad command, or bare CR or
	// LF in the data.
	SyntaxError = "5.5.2"
)

// Message content or media status (RFC 3463 section 3.7, X.6.X).
const (
	// ContentOther is 5.6.0 "Other or undefined media error": a NUL, or
	// a line too long.
	ContentOther = "5.6.0"
	// NeedsSMTPUTF8 is 5.6.7 "Non-ASCII addresses not permitted for that
	// sender/recipient" (RFC 6531 section 3.7.4.1).
	NeedsSMTPUTF8 = "5.6.7"
)

// Security or policy status (RFC 3463 section 3.8, X.7.X).
const (
	// SecurityTransient is 4.7.0 "Other or undefined security status",
	// transient: a smart host that needs TLS or refused the login.
	SecurityTransient = "4.7.0"
	// CryptoTransient is 4.7.5 "Cryptographic failure", transient: a
	// next hop that DANE (RFC 7672) or an MTA-STS policy in enforce mode
	// (RFC 8461) says must be reached over authenticated TLS, and is not.
	CryptoTransient = "4.7.5"
	// NotAuthorized is 5.7.1 "Delivery not authorized, message refused".
	NotAuthorized = "5.7.1"
	// NotAuthorizedTransient is 4.7.1, the same for now: a sender check
	// that could not be made (a DNS failure).
	NotAuthorizedTransient = "4.7.1"
	// AuthRequired is 5.7.0 "Other or undefined security status": here,
	// authentication required (RFC 4954 section 6, 530 5.7.0).
	AuthRequired = "5.7.0"
	// AuthInvalid is 5.7.8 "Authentication credentials invalid" (RFC
	// 4954 section 6).
	AuthInvalid = "5.7.8"
	// EncryptionRequired is 5.7.11 "Encryption required for requested
	// authentication mechanism" (RFC 4954 section 6).
	EncryptionRequired = "5.7.11"
)

// Parts is code as its three numbers, as go-smtp's EnhancedCode holds
// them; zero for a code that is not "class.subject.detail".
func Parts(code string) [3]int {
	var out [3]int
	f := strings.Split(code, ".")
	if len(f) != 3 {
		return [3]int{}
	}
	for i, s := range f {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 999 {
			return [3]int{}
		}
		out[i] = n
	}
	return out
}

// SMTP reply codes (RFC 5321 section 4.2.3; RFC 4954 section 6 for
// authentication).
const (
	ReplyReady               = 220 // 220 Service ready (and RFC 3207's "Ready to start TLS")
	ReplyOK                  = 250 // 250 Requested mail action okay, completed
	ReplyNotAvailable        = 421 // 421 Service not available, closing transmission channel
	ReplyMailboxBusy         = 450 // 450 Requested mail action not taken: mailbox unavailable
	ReplyLocalError          = 451 // 451 Requested action aborted: local error in processing
	ReplyInsufficientStorage = 452 // 452 Requested action not taken: insufficient system storage (and too many recipients)
	ReplyTempAuthFailure     = 454 // 454 Temporary authentication failure (RFC 4954)
	ReplySyntaxError         = 500 // 500 Syntax error, command unrecognized (and line too long)
	ReplyParamSyntax         = 501 // 501 Syntax error in parameters or arguments
	ReplyNotImplemented      = 502 // 502 Command not implemented
	ReplyBadSequence         = 503 // 503 Bad sequence of commands
	ReplyAuthRequired        = 530 // 530 Authentication required (RFC 4954)
	ReplyAuthInvalid         = 535 // 535 Authentication credentials invalid (RFC 4954)
	ReplyEncryptionRequired  = 538 // 538 Encryption required for requested authentication mechanism (RFC 4954)
	ReplyMailboxUnavailable  = 550 // 550 Requested action not taken: mailbox unavailable (and policy refusals)
	ReplyExceededStorage     = 552 // 552 Requested mail action aborted: exceeded storage allocation
	ReplyNameNotAllowed      = 553 // 553 Requested action not taken: mailbox name not allowed
	ReplyTransactionFailed   = 554 // 554 Transaction failed (or "No SMTP service here" at the greeting)
)
