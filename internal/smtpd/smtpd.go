package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/loginlimit"
	"github.com/waypost/waypost/internal/routing"
)

// Queue is where accepted messages go. Add must return only once the message
// is on stable storage; an error makes the receiver answer 451 4.3.0, or
// 452 4.3.1 when it wraps syscall.ENOSPC (the file system is full: MAIL is
// then refused until it has room again, see space.go).
//
// Add reads body to its end. When reading body fails, Add must keep nothing
// of the message and return an error (the receiver refuses messages that way:
// the reader fails at the end of a message it will not accept).
type Queue interface {
	Add(env Envelope, body io.Reader) (id string, err error)
}

// Envelope is what the receiver learnt of a message besides its content.
type Envelope struct {
	From       string      // reverse path as written, "" for the null sender
	Recipients []Recipient // in RCPT order, each once
	EnvID      string      // RFC 3461 ENVID, decoded; "" if none
	Ret        string      // RFC 3461 RET: "FULL", "HDRS" or ""
	Arrival    time.Time   // when the message data began
	Auth       string      // authenticated user (the Authenticator's mailbox) or ""
	RemoteAddr string      // client ip:port
	Helo       string      // EHLO/HELO argument, printable ASCII only
	Receiver   string      // receive connector name
	// ShadowOf, on the relay listener, marks a shadow copy made before
	// the 250 by another hub: "SERVER ID" (package shadow), "" for a
	// message to deliver.
	ShadowOf string
}

// Recipient is one accepted RCPT.
type Recipient struct {
	Written  string           // the SMTP address as given in RCPT TO, without <>
	Decision routing.Decision // routing at RCPT time, for the declared size
	ORCPT    string           // RFC 3461 original recipient "type;address" (decoded), "" if none
	Notify   string           // "", "NEVER" or a comma list of SUCCESS, FAILURE, DELAY
}

// Authenticator checks SMTP AUTH credentials. The hub checks the directory's
// password hashes; hashing stays out of this package.
type Authenticator interface {
	Authenticate(user, pass string) (mailbox string, ok bool)
}

// Checker is an Authenticator that can tell a refusal from a failure to
// check: an error wrapping directory.ErrUnavailable answers 454 4.7.0
// (RFC 4954) and does not count as a failed attempt.
type Checker interface {
	Check(user, pass string) (mailbox string, err error)
}

// Listener serves one receive connector of one server.
type Listener struct {
	org    *config.Org
	server *config.Server
	rc     *config.ReceiveConnector
	eng    func() *routing.Engine
	q      Queue
	auth   Authenticator
	log    *slog.Logger
	fqdn   string
	tls    *tls.Config // nil without STARTTLS
	secret []byte      // the hub secret, on a relay listener (KindRelay)
	// shadows is the hub's shadow redundancy (shadow.go); nil: none.
	shadows Shadows
	// resolver asks the server's dns for the sender checks; nil: the system's.
	resolver *net.Resolver
	srv      *smtp.Server

	// trustLoopback lets loopback clients AUTH without TLS; tests turn it
	// off to stand for a remote client.
	trustLoopback bool

	ev          Events
	logins      *loginlimit.Limiter
	queueDir    string                           // its file system's free space is checked at MAIL; "" for none
	statfs      func(dir string) (uint64, error) // free bytes for an unprivileged user
	spaceWarned atomic.Bool
	freeCache   freeCache   // the last statfs of queueDir (space.go)
	space       *spaceState // shared by the listeners of one queue folder (SetQueueDir)
	now         func() time.Time

	stressSince   atomic.Int64  // UnixNano when stress began, 0 when not under stress (stress.go)
	stressTimeout time.Duration // the timeouts under stress (tests shorten it)

	mu      sync.Mutex
	conns   map[*guard]struct{}
	perIP   map[netip.Addr]int // admitted connections by clientKey
	closing bool
}

// New builds the listener of receive connector rc on server. eng returns
// the current routing engine (it may change on reload; each transaction
// keeps the one current at MAIL). auth may be nil: then no AUTH is offered.
// log may be nil.
func New(org *config.Org, server string, rc *config.ReceiveConnector, eng func() *routing.Engine, q Queue, auth Authenticator, log *slog.Logger) (*Listener, error) {
	switch {
	case org == nil:
		return nil, errors.New("smtpd: no organization")
	case rc == nil:
		return nil, errors.New("smtpd: no receive connector")
	case eng == nil:
		return nil, errors.New("smtpd: no routing engine")
	case q == nil:
		return nil, errors.New("smtpd: no queue")
	}
	s := org.Server(server)
	if s == nil {
		return nil, fmt.Errorf("smtpd: server %q is not in the organization", server)
	}
	if log == nil {
		log = slog.Default()
	}
	l := &Listener{
		org:           org,
		server:        s,
		rc:            rc,
		eng:           eng,
		q:             q,
		auth:          auth,
		log:           log.With("connector", rc.Name),
		fqdn:          s.FQDN,
		trustLoopback: true,
		conns:         map[*guard]struct{}{},
		perIP:         map[netip.Addr]int{},
		statfs:        diskFree,
		space:         &spaceState{},
		now:           time.Now,
		stressTimeout: stressTimeout,
	}
	if l.fqdn == "" {
		l.fqdn = s.Name
	}
	l.logins = loginlimit.New(LoginPolicy(rc), l.log)
	l.logins.OnLockout = l.evLockout
	if rc.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(rc.TLSCert, rc.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("smtpd: receive connector %q: TLS certificate: %w", rc.Name, err)
		}
		l.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	srv := smtp.NewServer(backend{l})
	srv.Domain = l.fqdn
	// go-smtp refuses a message of exactly MaxMessageBytes (its reader
	// fails before it sees the end of data), so it gets one byte more; the
	// limit itself is checked at MAIL (SIZE) and by the body reader, and
	// the guard advertises the real one in the EHLO reply.
	srv.MaxMessageBytes = rc.MaxMessageSize
	if rc.MaxMessageSize > 0 {
		srv.MaxMessageBytes = rc.MaxMessageSize + 1
	}
	// go-smtp advertises max_recipients (LIMITS RCPTMAX, RFC 9422) and
	// counts the recipients the session took as new; the session counts a
	// repeated RCPT too, and so refuses first when there was one.
	srv.MaxRecipients = rc.MaxRecipients
	// The guard enforces max_line_length itself (and keeps data lines within
	// it); go-smtp's limit is a little higher so that it never fires first.
	srv.MaxLineLength = rc.MaxLineLength + 8
	// AUTH is offered per session (AuthMechanisms): only on submission
	// connectors, and only after TLS unless the client is on loopback. The
	// guard does TLS, so go-smtp never sees a *tls.Conn.
	srv.AllowInsecureAuth = true
	srv.WriteTimeout = rc.CommandTimeout // reads are timed by the guard
	srv.EnableSMTPUTF8 = true
	srv.EnableDSN = true
	srv.ErrorLog = errorLog{l.log}
	l.srv = srv
	return l, nil
}

// Serve accepts connections on ln until Shutdown. It returns nil after
// Shutdown, otherwise the listener's error.
func (l *Listener) Serve(ln net.Listener) error {
	l.mu.Lock()
	closing := l.closing
	l.mu.Unlock()
	if closing {
		ln.Close()
		return smtp.ErrServerClosed
	}
	return l.srv.Serve(&netListener{Listener: ln, l: l})
}

// Shutdown stops accepting connections, closes idle sessions at once with
// 421 4.3.2, lets sessions inside a mail transaction finish it (they are
// closed after the reply to DATA), and returns when all are gone. When ctx
// ends first, the remaining connections are closed and ctx's error is
// returned; a client cut off before its 250 sends the message again.
func (l *Listener) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	l.closing = true
	conns := make([]*guard, 0, len(l.conns))
	for g := range l.conns {
		conns = append(conns, g)
	}
	l.mu.Unlock()
	for _, g := range conns {
		g.closeIfIdle()
	}
	err := l.srv.Shutdown(ctx)
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	if ctx.Err() != nil {
		l.mu.Lock()
		conns = conns[:0]
		for g := range l.conns {
			conns = append(conns, g)
		}
		l.mu.Unlock()
		for _, g := range conns {
			g.Close()
		}
		return ctx.Err()
	}
	return err
}

func (l *Listener) isClosing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closing
}

// allowed reports whether a client address is inside the connector's
// remote_ranges.
func (l *Listener) allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range l.rc.RemoteRanges {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// netListener wraps the accepted connections in guards and refuses clients
// outside remote_ranges before go-smtp greets them.
type netListener struct {
	net.Listener
	l *Listener
}

func (n *netListener) Accept() (net.Conn, error) {
	for {
		c, err := n.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap := addrPort(c.RemoteAddr())
		switch {
		case !n.l.allowed(ap.Addr()):
			go n.l.refuseConn(c, ap, replyAccessDenied, "client address outside remote_ranges")
			continue
		}
		g := newGuard(n.l, c, ap)
		if r, reason := n.l.admit(g); r != nil {
			go n.l.refuseConn(c, ap, r, reason)
			continue
		}
		n.l.evSession()
		return g, nil
	}
}

// refuseConn answers a connection that will not be served, instead of the
// greeting (RFC 5321 section 3.1), and closes it.
func (l *Listener) refuseConn(c net.Conn, ap netip.AddrPort, r *smtp.SMTPError, reason string) {
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	line := formatReply(r)
	l.evRejectReply(r) // before the write: a client that has read the reply finds it counted
	io.WriteString(c, line)
	l.log.Info("refused", "remote", ap.String(), "command", "(connect)", "reply", strings.TrimSpace(line), "reason", reason)
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

type backend struct{ l *Listener }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	l := b.l
	g, ok := c.Conn().(*guard)
	if !ok {
		return nil, replyLocalError
	}
	if l.isClosing() {
		g.setCloseAfterWrite()
		return nil, replyShuttingDown
	}
	if !l.allowed(g.remote.Addr()) {
		return nil, replyAccessDenied
	}
	s := &session{l: l, g: g, relay: inRanges(l.rc.RelayRanges, g.remote.Addr())}
	s.loopback = l.trustLoopback && g.remote.Addr().Unmap().IsLoopback()
	g.setSession(s)
	return s, nil
}

// inRanges reports whether a is in one of ranges.
func inRanges(ranges []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ranges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// errorLog passes go-smtp's internal messages to slog: panics as errors,
// the rest (mostly connections that broke) at debug level.
type errorLog struct{ log *slog.Logger }

func (e errorLog) Printf(format string, v ...any) { e.print(fmt.Sprintf(format, v...)) }
func (e errorLog) Println(v ...any)               { e.print(strings.TrimSuffix(fmt.Sprintln(v...), "\n")) }

func (e errorLog) print(s string) {
	if strings.HasPrefix(s, "panic") {
		e.log.Error("smtp server: " + s)
		return
	}
	e.log.Debug("smtp server: " + s)
}
