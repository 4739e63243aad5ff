package smtpd

import "github.com/waypost/waypost/internal/status"

// HTTP detection: a web client or proxy probe on an SMTP port is sent
// away at once (Postfix's smtpd_forbidden_commands).

// httpVerbs start lines that are not SMTP at all but a web client on the
// wrong port, or a proxy probe (Postfix's smtpd_forbidden_commands).
var httpVerbs = []string{"GET ", "POST ", "HEAD ", "PUT ", "CONNECT "}

var replyNotSMTP = reply(status.ReplyTransactionFailed, status.InvalidCommand, "Not an SMTP command, closing connection")

// isHTTP reports whether a command line is the request line of a web
// client or proxy probe.
func isHTTP(text string) bool {
	for _, v := range httpVerbs {
		if hasPrefixFold(text, v) {
			return true
		}
	}
	return false
}
