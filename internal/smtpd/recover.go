package smtpd

import (
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// A panic in a session must not take the hub down (nor leave the client
// waiting): each entry point go-smtp calls recovers it, logs it with its
// stack, answers 421 4.3.0 and closes that connection; the listener and
// every other session go on. go-smtp recovers panics inside a command
// itself, but answers them 421 4.0.0 and not while it reads a line, which
// is where the guard runs.

func (s *session) Reset() {
	defer s.recovered("RSET", nil)
	s.reset()
}

func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, opts *smtp.MailOptions) (err error) {
	defer s.recovered("MAIL", &err)
	return s.mail(from, opts)
}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) (err error) {
	defer s.recovered("RCPT", &err)
	return s.rcpt(to, opts)
}

func (s *session) Data(r io.Reader) (err error) {
	defer s.recovered("DATA", &err)
	return s.data(r)
}

func (s *session) Auth(mech string) (srv sasl.Server, err error) {
	defer s.recovered("AUTH", &err)
	srv, err = s.startAuth(mech)
	if srv != nil {
		srv = safeSASL{srv, s}
	}
	return srv, err
}

// safeSASL recovers a panic in a SASL mechanism (the credential check runs
// there).
type safeSASL struct {
	sasl.Server
	s *session
}

func (w safeSASL) Next(resp []byte) (ch []byte, done bool, err error) {
	defer w.s.recovered("AUTH", &err)
	return w.Server.Next(resp)
}

// recovered is deferred by the session's entry points: after a panic it logs
// the stack, makes *err 421 4.3.0 (when the method has a reply) and has the
// connection closed after it.
func (s *session) recovered(cmd string, err *error) {
	p := recover()
	if p == nil {
		return
	}
	s.l.log.Error("panic in an SMTP session; closing it", "remote", s.g.remote.String(), "command", cmd,
		"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	s.g.setCloseAfterWrite()
	if err != nil {
		*err = replyLocalError
		return
	}
	s.g.abort()
}

// recoverRead is deferred by the guard's Read, which go-smtp calls outside
// its own recovery: after a panic it logs the stack, answers 421 4.3.0 if
// it can and closes the connection.
func (g *guard) recoverRead(n *int, err *error) {
	p := recover()
	if p == nil {
		return
	}
	g.l.log.Error("panic reading an SMTP session; closing it", "remote", g.remote.String(),
		"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	*n, *err = 0, net.ErrClosed
	g.abort()
}

// abort answers 421 4.3.0 and closes the connection, after a panic. The
// panic may have left the guard's locks held: it writes only if it can
// take them, and closes the socket in any case, so that the client is not
// left waiting.
func (g *guard) abort() {
	if g.wmu.TryLock() {
		if g.mu.TryLock() {
			rw, closed := g.rw, g.closed
			g.mu.Unlock()
			if !closed {
				g.raw.SetWriteDeadline(time.Now().Add(time.Second))
				io.WriteString(rw, formatReply(replyLocalError))
				g.l.evRejectReply(replyLocalError)
			}
			g.wmu.Unlock()
			g.Close()
			return
		}
		g.wmu.Unlock()
	}
	g.raw.Close()
}
