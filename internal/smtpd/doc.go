// Package smtpd is the receive side of a hub: one Listener per receive
// connector of the organization file (interfaces.md section 1). It speaks
// SMTP with github.com/emersion/go-smtp, routes every recipient with the
// routing engine at RCPT time, refuses at the earliest point with an
// enhanced status code, and hands each accepted message to a Queue, which
// must have it on stable storage before the 250 reply.
//
// Standards:
//   - RFC 5321 (SMTP); the Received header of section 4.4, without a reverse
//     DNS name ("from helo ([ip])"); the 1000-octet text line of section
//     4.5.3.1.6 is relaxed to the connector's max_line_length, over which a
//     message is refused (never truncated or split).
//   - RFC 1870 SIZE (552 5.3.4 at MAIL and after the data), RFC 6152
//     8BITMIME, RFC 2920 PIPELINING, RFC 2034 and RFC 3463 enhanced status
//     codes on every reply, RFC 6531 SMTPUTF8 (553 5.6.7 for a non-ASCII
//     address without it), RFC 3461 DSN (RET, ENVID, NOTIFY, ORCPT of any
//     address type, x400 included), RFC 3207 STARTTLS, RFC 4954 AUTH (PLAIN
//     and LOGIN on submission connectors, only after TLS unless the client
//     is on loopback). RFC 3030 CHUNKING is offered by go-smtp and works.
//     A message of exactly the connector's max_message_size is accepted
//     (go-smtp alone refuses it; the guard advertises the real SIZE).
//
// Relay rule: an unauthenticated client of an smtp connector may send only to
// recipients whose domain, as written, is an authoritative or internal_relay
// accepted domain (554 5.7.1 Relay access denied otherwise); a submission
// connector requires AUTH before MAIL (530 5.7.0) and then relays anywhere.
// Recipients arrive as SMTP addresses; IMCEA and RFC 3192 ones at an
// authoritative domain are decapsulated by routing, and a non-SMTP
// recipient that routing cannot place (NDR 5.4.4) is still accepted: its
// report is written later from the Decision kept in the Envelope.
//
// Hub-to-hub relay. Each server with a relay address (server.relay) also
// runs a relay listener (NewRelay), a receive connector of the internal kind
// KindRelay with the default limits. It offers STARTTLS (RFC 3207; TLS
// 1.3, the certificate of server.relay_tls or a self-signed one made in
// the data folder, relaytls.go) and refuses AUTH and MAIL before it with
// 530 5.7.0 Must issue a STARTTLS command first. Inside TLS a peer proves
// that it is a hub of the organization before MAIL, with the
// challenge-and-response SASL mechanism of package hubauth
// (X-WAYPOST-HUB), bound to the TLS channel (RFC 9266 tls-exporter): the
// challenge proves the secret to the peer for this channel, the secret
// never travels and, as every challenge carries a fresh nonce, a recorded
// exchange cannot be replayed, nor a response made on another channel
// passed on. It is the only mechanism offered there, and only inside TLS.
// A wrong proof gets 535 5.7.8 and counts as a failed AUTH; MAIL before
// the proof gets 530 5.7.0 Hub authentication required. A proven peer may send
// to any recipient (org-internal trust); the envelope it gives is kept
// (RET, ENVID, NOTIFY, ORCPT), Envelope.Auth is "hub:<peer>", and when the
// data begins with an X-Waypost-Arrival: header line (ArrivalHeader, an
// RFC 3339 time) that line is removed and its time becomes
// Envelope.Arrival, so that expiry counts from the first hub; the
// X-Waypost-ORCPT: lines after it (ORCPTHeader) give the ORCPTs that RCPT
// could not carry (x400 and other types) and are removed too. The hop
// count, line and size limits and the smuggling guard apply as on every
// connector. The receiving hub routes the recipients again with its own
// scope.
//
// SMTP smuggling. Every connection passes through a guard (conn.go) that
// reads the raw byte stream beneath go-smtp and enforces:
//
//   - Only <CR><LF>.<CR><LF> ends DATA. <LF>.<LF>, <CR>.<CR>, <LF>.<CR><LF>
//     and every other bare-CR or bare-LF variant are data. A bare CR is
//     handed to go-smtp as a space, so that its DATA reader, which loses
//     sync on some CR sequences, ends the data exactly where the guard does.
//   - A message with a bare CR, a bare LF or a NUL anywhere, a line over the
//     limit, or more Received headers than the connector's max_hop_count is
//     read to the real terminator and then refused (550 5.5.2, 550 5.6.0,
//     550 5.6.0, 554 5.4.6); nothing of it is queued and the session stays
//     in step, so the next command is answered normally.
//   - From a client in the connector's bare_lf_ranges a bare LF in DATA
//     ends a line and is made CRLF, but a lone "." next to a bare LF is
//     still data and the message is refused (see dataScan.run for why).
//   - A client that sends message content before the 354 reply (a
//     pipelining violation, RFC 2920 section 3.1) gets 554 5.5.0 and the
//     connection is closed; its content is never read as data.
//   - STARTTLS is done by the guard itself: plaintext that follows the
//     STARTTLS command is discarded (CVE-2011-0411) and, after the
//     handshake, the client must send EHLO again. Because the guard owns
//     the TLS layer, all of the above holds inside TLS too.
//
// The guard's code is split by what it does: conn.go (the wrapped
// connection), reading.go (reading with timeouts), command.go (command
// parsing), httpdetect.go, starttls.go, writing.go (replies, max_errors)
// and smuggling.go (the data scan).
//
// The guard also enforces the connector's command and data timeouts and
// min_data_rate (421 4.4.2), the line length (500 5.5.2 for a command
// line), and max_errors (421 4.7.0 Too many errors after the last, then
// close); it answers
// unknown and malformed commands itself, so that they count against
// max_errors (go-smtp alone closes at the fourth), and ends a session that
// speaks HTTP at once. It writes one log line per refusal; the session
// writes one per accepted message.
//
// Limits (connections.go, stress.go, lockout.go, space.go): max_connections_per_ip
// (421 4.7.0) before the greeting, and max_connections (421 4.3.2) unless
// an idle or slow session can make room: from 80% of max_connections the
// connector is under stress (Postfix's postscreen, anvil and stress mode),
// idle and slow sessions get a 10 s timeout, and a full connector closes
// the session idle longest without a transaction or AUTH (421 4.3.2), or
// else the slowest message transfer (421 4.4.2), for the new client. Three
// failed AUTH end a session; failed AUTH are counted per address and per
// account by package loginlimit (421 4.7.0 for a locked address, at
// connect and at AUTH; 454 4.7.0 for a locked account from an unknown
// address). A header section over max_header_size is refused with
// 552 5.3.4. MAIL gets 452 4.3.1 while the queue's file system
// (SetQueueDir) has less free than 1.5 x the size limit or min_free_space
// (read at most once a second per listener), and after the queue failed
// with ENOSPC (that DATA gets 452 4.3.1 too) until statfs shows room
// again. An IPv6 client's /64 counts as one
// address. max_errors refusals end a session (the last is followed by
// 421 4.7.0). Every accepted RCPT counts toward max_recipients, a repeated
// one too; RCPT TO:<postmaster> without a domain is the postmaster of the
// default domain (RFC 5321 section 4.5.1). A panic in a session is
// recovered (recover.go): logged with its stack, 421 4.3.0, that
// connection closed. Events (SetEvents) reports sessions, refusals, failed
// AUTH, lockouts and accepted messages for metrics.
package smtpd
