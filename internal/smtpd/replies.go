package smtpd

import (
	"fmt"

	"github.com/emersion/go-smtp"
)

// Replies of the receiver, with their RFC 3463 enhanced status codes.
// go-smtp writes its own for protocol errors (syntax, sequence, SIZE
// declared over the limit, too many recipients).
var (
	replyAccessDenied       = reply(554, 5, 7, 1, "Access denied: your address may not use this connector")
	replyShuttingDown       = reply(421, 4, 3, 2, "Service shutting down, try again later")
	replyLocalError         = reply(421, 4, 3, 0, "Local error, try again later")
	replyAuthRequired       = reply(530, 5, 7, 0, "Authentication required")
	replyRelayDenied        = reply(554, 5, 7, 1, "Relay access denied")
	replyNeedUTF8           = reply(553, 5, 6, 7, "Non-ASCII address requires SMTPUTF8")
	replyEHLOFirst          = reply(503, 5, 5, 1, "Send EHLO first")
	replyMailFirst          = reply(503, 5, 5, 1, "Send MAIL first")
	replyAuthUnavailable    = reply(502, 5, 5, 1, "AUTH is not available on this connector")
	replyAuthNeedsTLS       = reply(538, 5, 7, 11, "Encryption required for requested authentication mechanism")
	replyAuthInTransaction  = reply(503, 5, 5, 1, "AUTH is not permitted during a mail transaction")
	replyAuthFailed         = reply(535, 5, 7, 8, "Authentication credentials invalid")
	replyAuthMalformed      = reply(501, 5, 5, 2, "Malformed authentication response")
	replyBareNewline        = reply(550, 5, 5, 2, "Bare CR or LF in message; use CRLF line endings")
	replyLFDot              = reply(550, 5, 5, 2, "Bare LF next to a lone dot in message; only CRLF.CRLF ends the data")
	replyNUL                = reply(550, 5, 6, 0, "NUL character in message")
	replyHopCount           = reply(554, 5, 4, 6, "Hop count exceeded - possible mail loop")
	replyQueueFailed        = reply(451, 4, 3, 0, "Queue write failed, try again later")
	replyDataTimeout        = reply(421, 4, 4, 2, "Timeout waiting for message data, closing connection")
	replyDataTooSlow        = reply(421, 4, 4, 2, "Message data too slow, closing connection")
	replyDataBroken         = reply(421, 4, 4, 0, "Connection error during message data, closing connection")
	replyRoutingConfig      = reply(451, 4, 3, 5, "Routing configuration error, try again later")
	replyCommandTooLong     = reply(500, 5, 5, 2, "Line too long")
	replyTooManyErrors      = reply(421, 4, 7, 0, "Too many errors")
	replySync               = reply(554, 5, 5, 0, "Error: SMTP protocol synchronization")
	replyTLSActive          = reply(503, 5, 5, 1, "TLS is already active")
	replyTLSNotNow          = reply(503, 5, 5, 1, "STARTTLS is not permitted during a mail transaction or after AUTH")
	replyReadyTLS           = reply(220, 2, 0, 0, "Ready to start TLS")
	replyDuplicateRecipient = reply(250, 2, 1, 5, "Duplicate recipient, accepted once")
	replyDirectoryDown      = reply(451, 4, 4, 3, "Directory server unavailable, try again later")
	replyAuthTempFail       = reply(454, 4, 7, 0, "Temporary authentication failure: the directory is unavailable, try again later")
)

func reply(code, class, subject, detail int, text string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{class, subject, detail}, Message: text}
}

// replyTooBig is 552 5.3.4 for a message over the connector's limit.
func replyTooBig(limit int64) *smtp.SMTPError {
	return reply(552, 5, 3, 4, fmt.Sprintf("Message too big; the limit is %d bytes", limit))
}

// replyTooManyRecipients is 452 4.5.3 once a transaction has max_recipients
// (RFC 5321 section 4.5.3.1.10: the client sends the rest in another), in
// go-smtp's words, which it uses when it sees the limit first.
func replyTooManyRecipients(limit int) *smtp.SMTPError {
	return reply(452, 4, 5, 3, fmt.Sprintf("Maximum limit of %d recipients reached", limit))
}

// replyHeaderTooBig is 552 5.3.4 for a header section over the connector's
// max_header_size (Exchange's MaxHeaderSize, Postfix's header_size_limit).
func replyHeaderTooBig(limit int64) *smtp.SMTPError {
	return reply(552, 5, 3, 4, fmt.Sprintf("Message header section too big; the limit is %d bytes", limit))
}

// replyLineTooLong refuses a message with a text line over the limit
// (RFC 5321 section 4.5.3.1.6); lines are never cut or split.
func replyLineTooLong(limit int) *smtp.SMTPError {
	return reply(550, 5, 6, 0, fmt.Sprintf("Line too long in message; the limit is %d octets with CRLF", limit))
}

// formatReply is the wire form of r, one line with CRLF.
func formatReply(r *smtp.SMTPError) string {
	c := r.EnhancedCode
	return fmt.Sprintf("%d %d.%d.%d %s\r\n", r.Code, c[0], c[1], c[2], r.Message)
}
