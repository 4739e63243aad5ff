package smtpd

import (
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/shadow"
	"github.com/waypost/waypost/internal/status"
)

// Shadow redundancy on the listeners (package shadow,
// docs/design/shadow.md): the relay listener answers the discharge query
// and takes shadow copies (the ShadowHeader line); the other receive
// connectors have a shadow copy made on another hub of the site before
// they answer 250 (shadow_on_receive).

// ShadowHeader carries the origin of a shadow copy between hubs.
const ShadowHeader = shadow.Header

// Shadows is a hub's shadow redundancy as its listeners use it.
type Shadows interface {
	// Answer is the answer to a discharge query about queue ID id.
	Answer(id string) shadow.Status
	// Copy makes a shadow copy of message id, just queued with env, on
	// another hub of the site, before the 250 (receive connectors other
	// than relay). A non-nil error refuses the message with 451 4.4.0:
	// Copy has then taken the message out of the queue again.
	Copy(id string, env Envelope) error
}

// SetShadows gives the listener the hub's shadow redundancy; nil: none
// (no query answered, no copy made).
func (l *Listener) SetShadows(s Shadows) { l.shadows = s }

// replyNoShadow refuses a message no other hub took a copy of, with
// shadow_on_receive = "required" (Exchange 2013 answers the same way).
var replyNoShadow = reply(status.ReplyLocalError, status.RoutingTransient, "No other hub of the site could take a shadow copy of the message; try again later")

// shadowQuery answers a RCPT of a discharge query on the relay listener
// (MAIL FROM:<> from a proven hub, RCPT TO:<ID@shadow.invalid>): a 250
// that says done, pending or unknown, never a recipient. Every answer is
// a 250 so that a long query counts no error (max_errors) and logs no
// refusal. ok is false when the RCPT is not a query.
func (s *session) shadowQuery(tx *txn, to string) (*smtp.SMTPError, bool) {
	if !s.l.isRelay() || s.l.shadows == nil || tx.from != "" {
		return nil, false
	}
	id, ok := shadow.ParseQueryAddress(strings.Trim(to, "<>"))
	if !ok {
		return nil, false
	}
	st := s.l.shadows.Answer(id)
	return &smtp.SMTPError{Code: status.ReplyOK, EnhancedCode: smtp.EnhancedCode(status.Parts(status.OK)), Message: shadow.ReplyText(id, st)}, true
}

// shadowCopy has a shadow copy of message id made before the 250, on a
// listener other than relay. It returns the refusal to answer, or nil.
func (s *session) shadowCopy(id string, env Envelope, rid string) *smtp.SMTPError {
	if s.l.isRelay() || s.l.shadows == nil {
		return nil
	}
	if err := s.l.shadows.Copy(id, env); err != nil {
		s.g.note("id", id, "receive_id", rid, "err", err.Error())
		return replyNoShadow
	}
	return nil
}

// shadowOrigin is the origin of a shadow copy relayed by peer (from
// Envelope.Auth "hub:PEER") with the value v of its ShadowHeader line:
// "PEER ID", the peer being the proven hub whatever the line names.
func shadowOrigin(auth, v string) string {
	peer, ok := strings.CutPrefix(auth, hubAuthPrefix)
	_, id, valid := shadow.ParseOrigin(v)
	if !ok || !valid {
		return ""
	}
	return shadow.Origin(peer, id)
}
