// Package dkim signs outgoing mail with DKIM (RFC 6376) using RSA
// (RFC 8301: 2048 bits or more here) or Ed25519 keys (RFC 8463), and makes
// and reads the keys. The signing itself is go-msgauth's; this package
// chooses the keys (by the domain of RFC 5322.From), the header fields
// (RFC 6376 section 5.4.1, From over-signed as section 8.15 advises) and
// relaxed/relaxed canonicalization (section 3.4), and streams the message
// once through the signer so that a large message is never held in memory.
// The SMTP agent (internal/delivery) prepends the field it returns when a
// message leaves the organization through a send connector of kind smtp.
package dkim
