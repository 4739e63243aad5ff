package shadow

import (
	"strings"
	"unicode"
)

// Domain is the domain of the addresses a discharge query names queue
// IDs with: ".invalid" is reserved (RFC 2606 section 2), so no real
// recipient can ever be taken for a query.
const Domain = "shadow.invalid"

// Header carries, between hubs, the origin of a shadow copy made before
// the 250 (shadow_on_receive): "SERVER ID", the hub that accepted the
// message and its queue ID there. The sending hub writes it among the
// first data lines (after X-Waypost-Arrival); the relay listener removes
// it.
const Header = "X-Waypost-Shadow"

// Status is what a hub answers about one of its queue IDs.
type Status string

// Answers of the discharge query.
const (
	// Done: the hub delivered the message onward (every recipient final:
	// a mailbox, a send connector's destination, a report) and removed it.
	Done Status = "done"
	// Pending: the message is still in the hub's queue (a hub it relayed
	// the message to may hold it in turn; the hub keeps its own shadow
	// until that one answers Done).
	Pending Status = "pending"
	// Unknown: the hub has no such message and does not remember it
	// (its queue was lost, or it forgot the ID after Keep).
	Unknown Status = "unknown"
)

// QueryAddress is the address a discharge query names id with.
func QueryAddress(id string) string { return id + "@" + Domain }

// ParseQueryAddress returns the queue ID a query address names, and
// false when addr is not one.
func ParseQueryAddress(addr string) (string, bool) {
	id, dom, ok := strings.Cut(addr, "@")
	if !ok || !strings.EqualFold(dom, Domain) || !validID(id) {
		return "", false
	}
	return strings.ToLower(id), true
}

// validID reports whether id looks like a queue ID (hex digits and
// dashes, at most 64 characters): nothing else is ever looked up.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if r != '-' && !unicode.Is(unicode.ASCII_Hex_Digit, r) {
			return false
		}
	}
	return true
}

// ReplyText is the text of the 250 reply to a query RCPT for id (after
// the enhanced status code): "shadow ID done".
func ReplyText(id string, st Status) string { return "shadow " + id + " " + string(st) }

// ParseReply reads the text of a reply to a query RCPT (without its code
// and enhanced status code) and returns the ID and the answer.
func ParseReply(text string) (id string, st Status, ok bool) {
	f := strings.Fields(text)
	if len(f) != 3 || f[0] != "shadow" {
		return "", "", false
	}
	switch st = Status(f[2]); st {
	case Done, Pending, Unknown:
		return strings.ToLower(f[1]), st, true
	}
	return "", "", false
}

// Origin is the value of Header: the hub holding the primary and its ID.
func Origin(server, id string) string { return server + " " + id }

// ParseOrigin reads a Header value.
func ParseOrigin(v string) (server, id string, ok bool) {
	server, id, ok = strings.Cut(strings.TrimSpace(v), " ")
	if !ok || server == "" || !validID(id) {
		return "", "", false
	}
	return server, strings.ToLower(id), true
}

// QueuedID finds the queue ID in the reply a hub's relay listener gives
// to the end of data ("250 2.0.0 Ok: queued as ID"), or "".
func QueuedID(reply string) string {
	_, rest, ok := strings.Cut(reply, "queued as ")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
	if !validID(id) {
		return ""
	}
	return strings.ToLower(id)
}
