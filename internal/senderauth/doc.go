// Package senderauth checks who sent an inbound message, for the receive
// connectors of kind smtp (sender_auth, docs/operations.md "Internet
// edge"): SPF for the MAIL FROM domain, or the HELO name with a null
// sender (RFC 7208, with blitiri.com.ar/go/spf), the DKIM signatures
// (RFC 6376, with go-msgauth's verifier), and DMARC (RFC 7489: the policy
// of the RFC 5322.From domain or of its organizational domain, found with
// the public suffix list, and the alignment of SPF and DKIM with it). The
// results go into one Authentication-Results field (RFC 8601, formatted
// by go-msgauth's authres); an existing field that claims this server's
// authserv-id is a forgery and is removed (RFC 8601 section 5).
//
// Every DNS lookup of one message shares one budget (Budget, 3 s): a
// lookup that runs out of it is a temperror, never a fail.
package senderauth
