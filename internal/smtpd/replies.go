package smtpd

import (
	"fmt"

	"github.com/emersion/go-smtp"
	"github.com/waypost/waypost/internal/status"
)

// Replies of the receiver, with their RFC 3463 enhanced status codes.
// go-smtp writes its own for protocol errors (syntax, sequence, SIZE
// declared over the limit, too many recipients).
var (
	replyAccessDenied       = reply(status.ReplyTransactionFailed, status.NotAuthorized, "Access denied: your address may not use this connector")
	replyShuttingDown       = reply(status.ReplyNotAvailable, status.NotAccepting, "Service shutting down, try again later")
	replyLocalError         = reply(status.ReplyNotAvailable, status.SystemTransient, "Local error, try again later")
	replyAuthRequired       = reply(status.ReplyAuthRequired, status.AuthRequired, "Authentication required")
	replyRelayDenied        = reply(status.ReplyTransactionFailed, status.NotAuthorized, "Relay access denied")
	replyNeedUTF8           = reply(status.ReplyNameNotAllowed, status.NeedsSMTPUTF8, "Non-ASCII address requires SMTPUTF8")
	replyEHLOFirst          = reply(status.ReplyBadSequence, status.InvalidCommand, "Send EHLO first")
	replyMailFirst          = reply(status.ReplyBadSequence, status.InvalidCommand, "Send MAIL first")
	replyAuthUnavailable    = reply(status.ReplyNotImplemented, status.InvalidCommand, "AUTH is not available on this connector")
	replyAuthNeedsTLS       = reply(status.ReplyEncryptionRequired, status.EncryptionRequired, "Encryption required for requested authentication mechanism")
	replyAuthInTransaction  = reply(status.ReplyBadSequence, status.InvalidCommand, "AUTH is not permitted during a mail transaction")
	replyAuthFailed         = reply(status.ReplyAuthInvalid, status.AuthInvalid, "Authentication credentials invalid")
	replyAuthMalformed      = reply(status.ReplyParamSyntax, status.SyntaxError, "Malformed authentication response")
	replyBareNewline        = reply(status.ReplyMailboxUnavailable, status.SyntaxError, "Bare CR or LF in message; use CRLF line endings")
	replyLFDot              = reply(status.ReplyMailboxUnavailable, status.SyntaxError, "Bare LF next to a lone dot in message; only CRLF.CRLF ends the data")
	replyNUL                = reply(status.ReplyMailboxUnavailable, status.ContentOther, "NUL character in message")
	replyHopCount           = reply(status.ReplyTransactionFailed, status.Loop, "Hop count exceeded - possible mail loop")
	replyQueueFailed        = reply(status.ReplyLocalError, status.SystemTransient, "Queue write failed, try again later")
	replyDataTimeout        = reply(status.ReplyNotAvailable, status.BadConnection, "Timeout waiting for message data, closing connection")
	replyDataTooSlow        = reply(status.ReplyNotAvailable, status.BadConnection, "Message data too slow, closing connection")
	replyDataBroken         = reply(status.ReplyNotAvailable, status.RoutingTransient, "Connection error during message data, closing connection")
	replyRoutingConfig      = reply(status.ReplyLocalError, status.MisconfiguredTransient, "Routing configuration error, try again later")
	replyCommandTooLong     = reply(status.ReplySyntaxError, status.SyntaxError, "Line too long")
	replyTooManyErrors      = reply(status.ReplyNotAvailable, status.SecurityTransient, "Too many errors")
	replySync               = reply(status.ReplyTransactionFailed, status.ProtocolOther, "Error: SMTP protocol synchronization")
	replyTLSActive          = reply(status.ReplyBadSequence, status.InvalidCommand, "TLS is already active")
	replyTLSNotNow          = reply(status.ReplyBadSequence, status.InvalidCommand, "STARTTLS is not permitted during a mail transaction or after AUTH")
	replyReadyTLS           = reply(status.ReplyReady, status.OK, "Ready to start TLS")
	replyDuplicateRecipient = reply(status.ReplyOK, status.DestinationValid, "Duplicate recipient, accepted once")
	replyDirectoryDown      = reply(status.ReplyLocalError, status.DirectoryDown, "Directory server unavailable, try again later")
	replyAuthTempFail       = reply(status.ReplyTempAuthFailure, status.SecurityTransient, "Temporary authentication failure: the directory is unavailable, try again later")
)

// reply is an SMTP reply of code (a status.Reply constant) with the
// enhanced status code enhanced (a status constant).
func reply(code int, enhanced, text string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode(status.Parts(enhanced)), Message: text}
}

// replyTooBig is 552 5.3.4 for a message over the connector's limit.
func replyTooBig(limit int64) *smtp.SMTPError {
	return reply(status.ReplyExceededStorage, status.MessageTooBig, fmt.Sprintf("Message too big; the limit is %d bytes", limit))
}

// replyTooManyRecipients is 452 4.5.3 once a transaction has max_recipients
// (RFC 5321 section 4.5.3.1.10: the client sends the rest in another), in
// go-smtp's words, which it uses when it sees the limit first.
func replyTooManyRecipients(limit int) *smtp.SMTPError {
	return reply(status.ReplyInsufficientStorage, status.TooManyRecipients, fmt.Sprintf("Maximum limit of %d recipients reached", limit))
}

// replyHeaderTooBig is 552 5.3.4 for a header section over the connector's
// max_header_size (Exchange's MaxHeaderSize, Postfix's header_size_limit).
func replyHeaderTooBig(limit int64) *smtp.SMTPError {
	return reply(status.ReplyExceededStorage, status.MessageTooBig, fmt.Sprintf("Message header section too big; the limit is %d bytes", limit))
}

// replyLineTooLong refuses a message with a text line over the limit
// (RFC 5321 section 4.5.3.1.6); lines are never cut or split.
func replyLineTooLong(limit int) *smtp.SMTPError {
	return reply(status.ReplyMailboxUnavailable, status.ContentOther, fmt.Sprintf("Line too long in message; the limit is %d octets with CRLF", limit))
}

// formatReply is the wire form of r, one line with CRLF.
func formatReply(r *smtp.SMTPError) string {
	c := r.EnhancedCode
	return fmt.Sprintf("%d %d.%d.%d %s\r\n", r.Code, c[0], c[1], c[2], r.Message)
}
