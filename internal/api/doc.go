// Package api is the HTTP API of a hub (interfaces.md section 5): JSON over
// HTTP with HTTP Basic authentication (RFC 7617) as a directory mailbox
// user, with the same password as SMTP submission. It serves
//
//   - GET  /api/v1/address-types: the address types of the caller's site
//     (interfaces.md section 4), with an ETag (RFC 9110 section 8.8.3),
//     If-None-Match and a long poll (?wait=30s);
//   - POST /api/v1/resolve: routing decisions, as `waypost route` prints
//     them, from the caller's home server;
//   - GET  /api/v1/oab: the offline address book, in full or as the
//     changes since a version;
//   - GET  /api/v1/mailbox/messages, GET and DELETE
//     /api/v1/mailbox/messages/{id}: the caller's Maildir on this hub,
//     with a sync state so that a client fetches only what is new.
//
// Every error is a JSON object {"error": "...", "code": "..."} with a
// fitting status; bad input is a 4xx answer, never a 500. docs/api.md
// describes each call and its JSON shapes.
package api
