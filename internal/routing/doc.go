// Package routing decides where each recipient of a message goes, as a pure
// function of (organization, directory, routing server, recipient, message
// size): no I/O, no clock. It follows interfaces.md section 3 and
// exchange-semantics.md sections 2 and 7:
//
//  1. Resolve the recipient against the directory over proxy addresses of
//     every type: a mailbox goes to its home server, a contact is routed by
//     its target, a group is expanded (each member once, loops broken). An
//     unknown recipient at an authoritative domain is NDR 5.1.1.
//  2. Otherwise select a send connector by address space: connectors too
//     small for the message are dropped; enabled connectors in scope for
//     the routing server whose address space matches are kept; then the
//     most specific match, the lowest aggregate cost (site path cost plus
//     address-space cost), the closest source server, the lowest name.
//  3. Nothing matches: an SMTP recipient is unreachable (queued until
//     expiry, 4.4.7); any other type is NDR 5.4.4 at once.
//
// A decision also lists every server as good as its single choice
// (hubs.go; interfaces.md section 3 rule 5, exchange-semantics.md
// section 2.6): a connector's equivalent source servers, and the hubs the
// routing server may hand the recipient to, for the scheduler to share
// the load among.
//
// The address types a site may send to (interfaces.md section 4) are
// computed from Route itself, in addrtypes.go, so what clients are told
// and what hubs route cannot disagree.
package routing
