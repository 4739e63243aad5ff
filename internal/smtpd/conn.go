package smtpd

import (
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// The guard: the connection go-smtp is given, wrapped around the client's
// socket (doc.go, SMTP smuggling), and what the session asks of it.

// A guard is the connection go-smtp is given. It reads the client's raw
// byte stream and hands it on in pieces it has checked:
//
//   - in the command phase, one line per Read, so that go-smtp never buffers
//     input the guard has not seen; at the 354 reply any input left over is
//     content sent too early (pipelining violation, 554 5.5.0 and close);
//   - in the data phase, bytes up to the strict end of data
//     <CR><LF>.<CR><LF> and not beyond, with every bare CR turned into a space
//     and over-long lines cut (such messages are refused anyway), so that
//     go-smtp's DATA reader ends exactly where the guard does; the guard
//     records what it saw (dataScan) for the session to refuse;
//   - BDAT chunks as they are (their length is known).
//
// It also answers STARTTLS itself and then reads through TLS, adds STARTTLS
// to the EHLO reply and puts the server's name first in it, moves x400 (and other non-RFC 822) ORCPT parameters
// out of RCPT lines for the session (go-smtp refuses them), passes the raw
// MAIL and RCPT paths to the session, counts and logs refusals, and closes
// after max_errors.
type guard struct {
	l        *Listener
	raw      net.Conn
	remote   netip.AddrPort
	bareLFOK bool // in the connector's bare_lf_ranges

	// Read side: used only by the connection's goroutine (the one go-smtp
	// serves it from), as are Write's checks of in and out.
	rbuf      []byte
	in        []byte // input read from the client, not yet handed on
	out       []byte // checked bytes not yet returned to go-smtp
	obuf      []byte
	rerr      error // sticky read error
	chunkLeft int64
	budget    time.Time // min_data_rate: when the data read so far is due (readData)

	wmu sync.Mutex // one reply at a time; held while rw changes
	rw  net.Conn   // raw, or the TLS connection after STARTTLS

	mu              sync.Mutex // everything below
	phase           phase
	scan            *dataScan // the current DATA, from 354 to its end
	saslNext        bool      // the last reply was 334: the next line is a SASL response
	greetPending    string    // "EHLO" or "HELO" when the next reply answers it
	inEHLO          bool      // the lines being written are the rest of an EHLO reply
	tlsState        *tls.ConnectionState
	greetedTLS      bool // EHLO or HELO given after STARTTLS
	helo            string
	esmtp           bool // the greeting was EHLO
	sess            *session
	errors          int
	closed          bool
	closeAfterWrite bool
	violation       bool
	slow            bool            // cut off for min_data_rate
	last            *smtp.SMTPError // written after the next refusal, then close
	lastWhy         string
	lastCmd         string // the command being answered, for the log (no credentials)
	path            string // raw path of the current MAIL or RCPT line
	havePath        bool
	orcpt           string    // non-RFC 822 ORCPT taken off the current RCPT line
	notes           []any     // log attributes the session adds to a refusal
	readDL          time.Time // deadline of the current or next read, "" for none
	lastActive      time.Time // when the last command line came (or the connection)
	dataStart       time.Time // when the current message data began
	dataBytes       int64     // bytes of it read so far
	inHandshake     bool      // in the STARTTLS handshake
}

type phase uint8

const (
	phaseCommand phase = iota
	phaseData
	phaseChunk
)

const readSize = 16 << 10

func newGuard(l *Listener, c net.Conn, remote netip.AddrPort) *guard {
	n := readSize
	if l.rc.MaxLineLength+2 > n {
		n = l.rc.MaxLineLength + 2
	}
	return &guard{l: l, raw: c, rw: c, remote: remote, rbuf: make([]byte, n), bareLFOK: inRanges(l.rc.BareLFRanges, remote.Addr())}
}

// Read implements net.Conn for go-smtp.
func (g *guard) Read(p []byte) (n int, err error) {
	defer g.recoverRead(&n, &err)
	for len(g.out) == 0 {
		g.mu.Lock()
		ph := g.phase
		g.mu.Unlock()
		var err error
		switch ph {
		case phaseData:
			err = g.fillData()
		case phaseChunk:
			err = g.fillChunk()
		default:
			err = g.fillCommand()
		}
		if err != nil {
			return 0, err
		}
	}
	n = copy(p, g.out)
	g.out = g.out[n:]
	return n, nil
}

// Close implements net.Conn.
func (g *guard) Close() error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	return g.closeLocked()
}

// closeLocked closes the connection; wmu is held.
func (g *guard) closeLocked() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	rw := g.rw
	g.mu.Unlock()
	g.l.forget(g)
	g.raw.SetWriteDeadline(time.Now().Add(time.Second))
	return rw.Close()
}

// closeIfIdle closes a session that is not inside a mail transaction, for
// Shutdown, with 421 4.3.2.
func (g *guard) closeIfIdle() {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	busy := g.phase != phaseCommand || g.sess != nil && g.sess.busy()
	closed := g.closed
	g.mu.Unlock()
	if busy || closed {
		return
	}
	g.raw.SetWriteDeadline(time.Now().Add(time.Second))
	g.write([]byte(formatReply(replyShuttingDown)), false)
	g.closeLocked()
}

// lastError makes the next refusal the last: it is followed by r (a 421)
// and the connection is closed; why goes to the log.
func (g *guard) lastError(r *smtp.SMTPError, why string) {
	g.mu.Lock()
	g.last, g.lastWhy = r, why
	g.mu.Unlock()
}

func (g *guard) setCloseAfterWrite() {
	g.mu.Lock()
	g.closeAfterWrite = true
	g.mu.Unlock()
}

func (g *guard) setSession(s *session) {
	g.mu.Lock()
	g.sess = s
	g.mu.Unlock()
}

// note adds log attributes to the next refusal.
func (g *guard) note(args ...any) {
	g.mu.Lock()
	g.notes = append(g.notes, args...)
	g.mu.Unlock()
}

// rawPath is the path of the MAIL or RCPT line being answered, as the
// client wrote it (go-smtp unquotes local parts).
func (g *guard) rawPath() (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.path, g.havePath
}

// takeORCPT returns the ORCPT the guard took off the RCPT line being
// answered, "type;address" decoded.
func (g *guard) takeORCPT() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.orcpt
	g.orcpt = ""
	return o
}

// dataScan returns what the guard records of the DATA being read, or nil
// when the message comes in BDAT chunks.
func (g *guard) dataScan() *dataScan {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.phase != phaseData {
		return nil
	}
	return g.scan
}

// tls returns the TLS state, nil before STARTTLS.
func (g *guard) tls() *tls.ConnectionState {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tlsState
}

// needEHLO reports whether the client must greet again (after STARTTLS).
func (g *guard) needEHLO() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tlsState != nil && !g.greetedTLS
}

// greeting returns the EHLO or HELO argument (printable) and whether it was
// EHLO.
func (g *guard) greeting() (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.helo, g.esmtp
}

func (g *guard) violated() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.violation
}

func (g *guard) LocalAddr() net.Addr { return g.raw.LocalAddr() }

func (g *guard) RemoteAddr() net.Addr { return g.raw.RemoteAddr() }

func (g *guard) SetDeadline(t time.Time) error { return g.raw.SetDeadline(t) }

func (g *guard) SetReadDeadline(t time.Time) error { return g.raw.SetReadDeadline(t) }

func (g *guard) SetWriteDeadline(t time.Time) error { return g.raw.SetWriteDeadline(t) }
