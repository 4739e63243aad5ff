// Package client is the cached-mode mail client of `waypost client`
// (interfaces.md sections 4-6, issue 6): an offline profile in a folder
// (the cached address types of the user's site with their version, the
// offline address book, an outbox, a sent folder and an inbox), the HTTP
// API client that keeps it current (address types with ETag and
// If-None-Match, the address book with ?since=, the mailbox with a sync
// state), and SMTP submission with AUTH PLAIN.
//
// The rule it exists for is the fix of KB 955778: a recipient whose
// address type is missing from the cached list is refused locally (a
// local non-delivery report, RFC 3464, in the profile's inbox) only after
// a conditional request has confirmed the list with the hub; a stale
// cache never causes a false report. Offline, such recipients wait in the
// outbox and are decided at the next sync.
//
// Every file of the profile is written to a temporary name, fsynced,
// renamed into place and its folder fsynced; the credentials file has
// mode 0600 and the profile folder 0700. One command at a time works on a
// profile (an flock on DIR/lock).
package client
