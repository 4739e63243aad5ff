package smtpd

import (
	"strconv"

	"github.com/emersion/go-smtp"
)

// Events are the hooks a listener calls for metrics. The package has no
// metrics of its own: the hub sets these (SetEvents) to count with its
// metrics package, labelling them with the connector's name. Any field may
// be nil. They are called from the connections' goroutines, concurrently,
// and must return quickly.
type Events struct {
	// OnSession: a connection was let in; the 220 greeting follows.
	OnSession func()
	// OnReject: the listener answered 4xx or 5xx, to a command, to a
	// message, or instead of the greeting (a refused connection).
	// enhanced is the RFC 3463 code ("5.7.1"), "" when the reply has none.
	OnReject func(code int, enhanced string)
	// OnAuthFailure: an AUTH attempt failed (wrong credentials or a
	// malformed exchange that reached the check).
	OnAuthFailure func()
	// OnLockout: failed AUTH locked out a client address or an account
	// (kind "address" or "account", package loginlimit).
	OnLockout func(service, kind string)
	// OnAccept: a message was queued and answered 250; size is the
	// client's content in bytes.
	OnAccept func(size int64)
}

// SetEvents sets the listener's hooks. Call it before Serve.
func (l *Listener) SetEvents(e Events) { l.ev = e }

func (l *Listener) evSession() {
	if f := l.ev.OnSession; f != nil {
		f()
	}
}

func (l *Listener) evAuthFailure() {
	if f := l.ev.OnAuthFailure; f != nil {
		f()
	}
}

func (l *Listener) evLockout(service, kind string) {
	if f := l.ev.OnLockout; f != nil {
		f(service, kind)
	}
}

func (l *Listener) evAccept(size int64) {
	if f := l.ev.OnAccept; f != nil {
		f(size)
	}
}

func (l *Listener) evRejectReply(r *smtp.SMTPError) {
	if f := l.ev.OnReject; f != nil {
		c := r.EnhancedCode
		f(r.Code, strconv.Itoa(c[0])+"."+strconv.Itoa(c[1])+"."+strconv.Itoa(c[2]))
	}
}

// evRejectLine reports a reply line as written on the wire: "550 5.1.1 text".
func (l *Listener) evRejectLine(code int, line []byte) {
	f := l.ev.OnReject
	if f == nil {
		return
	}
	f(code, enhancedOf(line))
}

// enhancedOf returns the enhanced status code of a reply line, or "".
func enhancedOf(line []byte) string {
	if len(line) < 5 {
		return ""
	}
	s := line[4:]
	end := 0
	dots := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.') {
		if s[end] == '.' {
			dots++
		}
		end++
	}
	if dots != 2 || end < 5 || end < len(s) && s[end] != ' ' && s[end] != '\r' {
		return ""
	}
	return string(s[:end])
}
