package smtpd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/address"
)

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

// readMore reads from the client into in, until deadline unless it is zero
// (then the deadline set before holds).
func (g *guard) readMore(deadline time.Time) {
	if g.rerr != nil {
		return
	}
	// in is always a slice of rbuf, which go-smtp holds nothing of now
	// (fill runs only when out is used up): move it to the front.
	g.in = g.rbuf[:copy(g.rbuf, g.in)]
	g.mu.Lock()
	if !deadline.IsZero() {
		if since, ok := g.l.stressed(); ok {
			// Under stress a message's data must be in within
			// stressTimeout of the stress or of its start.
			if limit := maxTime(since, g.dataStart).Add(g.l.stressTimeout); g.phase != phaseCommand && deadline.After(limit) {
				deadline = limit
			}
		}
		g.readDL = deadline
		g.raw.SetReadDeadline(deadline)
	}
	rw := g.rw
	g.mu.Unlock()
	n, err := rw.Read(g.in[len(g.in):cap(g.in)])
	g.in = g.in[:len(g.in)+n]
	if err != nil && n == 0 {
		g.rerr = err
	}
}

// readData reads message data (DATA or a BDAT chunk). Each read must end
// within data_timeout, and, with min_data_rate, the data as a whole must
// keep up with that rate after a grace of data_timeout (Postfix's
// smtpd_min_data_rate): the budget starts at data_timeout when the data
// begins, each byte read adds 1/min_data_rate seconds, and it never runs
// beyond data_timeout from now. A client trickling below the rate runs out
// of budget and is cut off (421 4.4.2) however often it sends a byte.
func (g *guard) readData() {
	rc := g.l.rc
	now := time.Now()
	timeout := g.l.dataTimeout()
	var dl time.Time
	slow := false
	if timeout > 0 {
		dl = now.Add(timeout)
		if rc.MinDataRate > 0 && g.budget.Before(dl) {
			dl, slow = g.budget, true
		}
	}
	if _, ok := g.l.stressed(); ok {
		slow = true // a deadline shortened by stress is a data rate too slow for now
	}
	before := len(g.in)
	g.readMore(dl)
	n := len(g.in) - before
	if n > 0 && rc.MinDataRate > 0 {
		g.budget = g.budget.Add(time.Duration(n) * time.Second / time.Duration(rc.MinDataRate))
		if limit := time.Now().Add(timeout); g.budget.After(limit) {
			g.budget = limit
		}
	}
	var ne net.Error
	timedOut := slow && g.rerr != nil && errors.As(g.rerr, &ne) && ne.Timeout()
	g.mu.Lock()
	g.dataBytes += int64(n)
	if timedOut {
		g.slow = true
	}
	g.mu.Unlock()
}

// startDataLocked starts the time budget of readData (and the count of
// stress.go);
// mu is held.
func (g *guard) startDataLocked() {
	now := time.Now()
	g.budget = now.Add(g.l.dataTimeout())
	g.dataStart, g.dataBytes = now, 0
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// tooSlow reports whether the client was cut off for min_data_rate.
func (g *guard) tooSlow() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.slow
}

// fillCommand hands on the next command line.
func (g *guard) fillCommand() error {
	limit := g.l.rc.MaxLineLength
	timed := false
	for {
		if i := bytes.IndexByte(g.in, '\n'); i >= 0 {
			if i+1 > limit {
				return g.commandTooLong()
			}
			line := g.in[:i+1]
			g.in = g.in[i+1:]
			out, err := g.command(line)
			if err != nil {
				return err
			}
			if out != nil {
				g.out = out
				return nil
			}
			timed = false
			continue
		}
		if len(g.in) >= limit {
			return g.commandTooLong()
		}
		if g.rerr != nil {
			return g.rerr
		}
		// One deadline for the whole line: a client that sends a byte now
		// and then is still cut off at command_timeout.
		var dl time.Time
		if d := g.l.commandTimeout(); !timed && d > 0 {
			dl = time.Now().Add(d)
		}
		timed = true
		g.readMore(dl)
	}
}

func (g *guard) commandTooLong() error {
	g.mu.Lock()
	g.lastCmd = "(line too long)"
	g.closeAfterWrite = true
	g.mu.Unlock()
	g.writeReply(replyCommandTooLong)
	g.Close()
	return io.EOF
}

// fillData hands on message data up to the end of data.
func (g *guard) fillData() error {
	for len(g.out) == 0 {
		if len(g.in) == 0 {
			if g.rerr != nil {
				return g.rerr
			}
			g.readData()
			continue
		}
		g.mu.Lock()
		sc := g.scan
		g.mu.Unlock()
		out, n, done := sc.run(g.in, g.obuf[:0])
		g.obuf = out
		g.in = g.in[n:]
		g.out = out
		if done {
			g.mu.Lock()
			g.phase = phaseCommand
			g.mu.Unlock()
			break
		}
	}
	return nil
}

// fillChunk hands on the rest of a BDAT chunk.
func (g *guard) fillChunk() error {
	for len(g.in) == 0 {
		if g.rerr != nil {
			return g.rerr
		}
		g.readData()
	}
	n := int64(len(g.in))
	if n > g.chunkLeft {
		n = g.chunkLeft
	}
	g.out = g.in[:n]
	g.in = g.in[n:]
	g.chunkLeft -= n
	if g.chunkLeft == 0 {
		g.mu.Lock()
		g.phase = phaseCommand
		g.mu.Unlock()
	}
	return nil
}

// command looks at one command line before go-smtp does. It returns what
// go-smtp is to read, or nil when the guard has answered the line itself.
func (g *guard) command(line []byte) ([]byte, error) {
	text := strings.TrimRight(string(line), "\r\n")
	g.mu.Lock()
	g.lastActive = time.Now()
	sasl := g.saslNext
	g.saslNext = false
	g.notes = nil
	g.havePath, g.path, g.orcpt = false, "", ""
	g.mu.Unlock()
	if sasl {
		return line, nil // a SASL response: credentials, never logged
	}
	if r, hangUp := badCommand(text); r != nil {
		// Answered here rather than by go-smtp, which closes the session at
		// its fourth such line whatever max_errors says.
		g.mu.Lock()
		g.lastCmd = printable(text, 60)
		g.closeAfterWrite = g.closeAfterWrite || hangUp
		g.mu.Unlock()
		g.writeReply(r)
		return nil, nil
	}
	verb, arg := splitCommand(text)
	summary := verb
	switch verb {
	case "STARTTLS":
		if g.l.tls != nil {
			return nil, g.startTLS()
		}
	case "EHLO", "HELO":
		domain, _, _ := strings.Cut(arg, " ")
		g.mu.Lock()
		g.greetPending = verb
		if domain != "" {
			g.helo = printable(domain, 255)
			g.esmtp = verb == "EHLO"
			if g.tlsState != nil {
				g.greetedTLS = true
			}
		}
		g.mu.Unlock()
		summary = verb + " " + printable(arg, 255)
	case "MAIL", "RCPT":
		prefix := "FROM:"
		if verb == "RCPT" {
			prefix = "TO:"
		}
		summary = verb + " " + printable(arg, 300)
		if !hasPrefixFold(arg, prefix) {
			break
		}
		rest := strings.TrimSpace(arg[len(prefix):])
		end := pathEnd(rest)
		mailbox := mailboxOf(rest[:end])
		if verb == "RCPT" && strings.EqualFold(rest[:end], "<postmaster>") {
			// RFC 5321 sections 4.1.1.3 and 4.5.1: <Postmaster> without a
			// domain must be accepted; it is the postmaster of the
			// organization's default domain. go-smtp's parser wants a
			// domain, so the line it reads has one.
			mailbox = rest[1:end-1] + "@" + g.l.org.DefaultDomain
			rest = "<" + mailbox + ">" + rest[end:]
			end = len(mailbox) + 2
			line = []byte("RCPT TO:" + rest + "\r\n")
		}
		g.mu.Lock()
		g.havePath, g.path = true, mailbox
		g.lastCmd = summary
		sess := g.sess
		g.mu.Unlock()
		if verb == "RCPT" && sess != nil && sess.busy() {
			// RCPT TO takes SMTP addresses only. go-smtp's parser would refuse
			// a one-off or typed address too, but as a command syntax error
			// (5.5.2) rather than a bad address (5.1.3).
			if _, _, err := address.ParseSMTP(mailbox); err != nil {
				g.note("rcpt", printable(mailbox, 300))
				g.writeReply(reply(501, 5, 1, 3, "Bad recipient address syntax: "+printable(err.Error(), 200)))
				return nil, nil
			}
		}
		if verb == "RCPT" {
			if params, orcpt, ok := takeORCPT(rest[end:]); ok {
				g.mu.Lock()
				g.orcpt = orcpt
				g.mu.Unlock()
				nl := "RCPT TO:" + rest[:end] + params + "\r\n"
				line = []byte(nl)
			}
		}
	case "AUTH":
		mech, _, _ := strings.Cut(arg, " ")
		summary = "AUTH " + printable(mech, 20)
	case "BDAT":
		if n, ok := bdatSize(arg); ok && n > 0 {
			g.chunkLeft = n
			g.mu.Lock()
			g.startDataLocked()
			g.phase = phaseChunk
			g.mu.Unlock()
		}
		summary = "BDAT " + printable(arg, 40)
	default:
		summary = printable(text, 60)
	}
	g.mu.Lock()
	g.lastCmd = summary
	g.mu.Unlock()
	return line, nil
}

// smtpVerbs are the commands go-smtp knows (it answers some of them 502).
var smtpVerbs = map[string]bool{
	"HELO": true, "EHLO": true, "LHLO": true, "MAIL": true, "RCPT": true, "DATA": true, "BDAT": true,
	"RSET": true, "VRFY": true, "NOOP": true, "QUIT": true, "AUTH": true,
	"HELP": true, "EXPN": true, "SEND": true, "SOML": true, "SAML": true, "TURN": true,
}

// httpVerbs start lines that are not SMTP at all but a web client on the
// wrong port, or a proxy probe (Postfix's smtpd_forbidden_commands).
var httpVerbs = []string{"GET ", "POST ", "HEAD ", "PUT ", "CONNECT "}

var replyNotSMTP = reply(554, 5, 5, 1, "Not an SMTP command, closing connection")

// badCommand returns the reply to a command line that go-smtp would refuse
// as malformed or unknown (its parseCmd), and whether to close after it,
// or nil for a line go-smtp is to answer.
func badCommand(text string) (*smtp.SMTPError, bool) {
	for _, v := range httpVerbs {
		if hasPrefixFold(text, v) {
			return replyNotSMTP, true
		}
	}
	switch l := len(text); {
	case hasPrefixFold(text, "STARTTLS"):
		return nil, false
	case l == 0:
		return reply(500, 5, 5, 2, "Error: bad syntax"), false
	case l < 4 || l == 5 || l > 5 && text[4] != ' ':
		return reply(501, 5, 5, 2, "Bad command"), false
	}
	if verb := strings.ToUpper(text[:4]); !smtpVerbs[verb] {
		return reply(500, 5, 5, 2, "Command unrecognized: "+printable(verb, 4)), false
	}
	return nil, false
}

// splitCommand splits a command line as go-smtp's parseCmd does: a verb of
// four letters and its argument, STARTTLS as a whole.
func splitCommand(text string) (verb, arg string) {
	switch {
	case hasPrefixFold(text, "STARTTLS"):
		return "STARTTLS", ""
	case len(text) < 4:
		return "", ""
	case len(text) == 4:
		return strings.ToUpper(text), ""
	case text[4] != ' ':
		return "", ""
	}
	return strings.ToUpper(text[:4]), strings.TrimSpace(text[5:])
}

// bdatSize is the chunk size of a BDAT command that go-smtp accepts the
// syntax of (and then reads the chunk of, whether or not it takes it).
func bdatSize(arg string) (int64, bool) {
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 || len(f) == 2 && !strings.EqualFold(f[1], "LAST") {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	return int64(n), err == nil
}

// startTLS answers STARTTLS (RFC 3207) and does the handshake.
func (g *guard) startTLS() error {
	g.mu.Lock()
	active := g.tlsState != nil
	busy := g.sess != nil && g.sess.tlsForbidden()
	g.lastCmd = "STARTTLS"
	g.mu.Unlock()
	switch {
	case active:
		g.writeReply(replyTLSActive)
		return nil
	case busy:
		g.writeReply(replyTLSNotNow)
		return nil
	}
	// Anything sent after STARTTLS and before the handshake is dropped:
	// it must not be read as if it came through TLS (CVE-2011-0411).
	dropped := len(g.in)
	g.in = g.in[:0]
	if err := g.writeReply(replyReadyTLS); err != nil {
		return err
	}
	if dropped > 0 {
		g.l.log.Warn("discarded input sent after STARTTLS before the TLS handshake", "remote", g.remote.String(), "bytes", dropped)
	}
	tc := tls.Server(g.raw, g.l.tls)
	ctx, cancel := context.WithTimeout(context.Background(), g.l.commandTimeout())
	g.mu.Lock()
	g.inHandshake = true
	g.mu.Unlock()
	err := tc.HandshakeContext(ctx)
	cancel()
	g.mu.Lock()
	g.inHandshake = false
	g.mu.Unlock()
	if err != nil {
		g.l.log.Info("TLS handshake failed", "remote", g.remote.String(), "err", err)
		g.Close()
		return io.EOF
	}
	st := tc.ConnectionState()
	g.wmu.Lock()
	g.mu.Lock()
	g.rw = tc
	g.tlsState = &st
	g.greetedTLS = false
	g.helo, g.esmtp = "", false
	g.mu.Unlock()
	g.wmu.Unlock()
	return nil
}

// Write implements net.Conn for go-smtp, which writes one reply line per
// call.
func (g *guard) Write(p []byte) (int, error) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	return g.write(p, true)
}

// writeReply writes a reply of the guard's own.
func (g *guard) writeReply(r *smtp.SMTPError) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	_, err := g.write([]byte(formatReply(r)), false)
	return err
}

func (g *guard) write(p []byte, fromServer bool) (int, error) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return 0, net.ErrClosed
	}
	code, final := replyCode(p)
	if fromServer && code == 354 {
		if len(g.in) > 0 || len(g.out) > 0 || pendingInput(g.raw) {
			// The client sent content before it could have seen 354.
			g.violation = true
			g.notes = append(g.notes, "reason", "pipelining violation: data sent before the 354 reply")
			g.mu.Unlock()
			g.in, g.out, g.rerr = nil, nil, io.EOF // none of it is read
			g.write([]byte(formatReply(replySync)), false)
			g.closeLocked()
			return len(p), nil
		}
		g.phase = phaseData
		g.startDataLocked()
		g.scan = &dataScan{max: g.l.rc.MaxLineLength - 2, fixLF: g.bareLFOK}
	}
	if code == 334 {
		g.saslNext = true
	}
	addTLS, size := false, len(p)
	if g.inEHLO {
		// The rest of the EHLO reply: go-smtp's SIZE is one more than the
		// limit (see New).
		g.inEHLO = !final
		if bytes.HasPrefix(p[3:], []byte(" SIZE ")) || bytes.HasPrefix(p[3:], []byte("-SIZE ")) {
			if max := g.l.rc.MaxMessageSize; max > 0 {
				p = []byte(string(p[:4]) + "SIZE " + strconv.FormatInt(max, 10) + "\r\n")
			}
		}
	}
	if verb := g.greetPending; verb != "" {
		g.greetPending = ""
		g.inEHLO = verb == "EHLO" && code == 250 && !final
		if code == 250 {
			// RFC 5321 section 4.1.1.1: the reply starts with the server's
			// name (go-smtp gives only "Hello <client>"; after HELO it adds
			// an enhanced code, which RFC 2034 keeps for EHLO clients).
			rest := strings.TrimRight(string(p[4:]), "\r\n")
			if verb == "HELO" {
				rest = strings.TrimPrefix(rest, "2.0.0 ")
			}
			p = []byte(string(p[:4]) + g.l.fqdn + " " + rest + "\r\n")
			addTLS = verb == "EHLO" && !final && g.l.tls != nil && g.tlsState == nil
		}
	}
	closeAfter := final && (g.closeAfterWrite || code == 421)
	rw := g.rw
	g.mu.Unlock()

	if _, err := rw.Write(p); err != nil {
		return 0, err
	}
	if addTLS {
		if _, err := io.WriteString(rw, "250-STARTTLS\r\n"); err != nil {
			return 0, err
		}
	}
	if final && code >= 400 {
		over := g.refused(p, code)
		g.mu.Lock()
		last, why := g.last, g.lastWhy
		g.last, g.lastWhy = nil, ""
		g.mu.Unlock()
		if last == nil && over {
			last, why = replyTooManyErrors, "too many errors"
		}
		if last != nil && !closeAfter {
			line := formatReply(last)
			rw.Write([]byte(line))
			g.logRefusal(line, why)
			g.l.evRejectReply(last)
			closeAfter = true
		}
	}
	if closeAfter {
		g.closeLocked()
	}
	return size, nil
}

// refused counts and logs a refusal; it reports whether the session has
// now had max_errors of them (the session ends after that many).
func (g *guard) refused(p []byte, code int) bool {
	g.logRefusal(string(p), "")
	g.l.evRejectLine(code, p)
	g.mu.Lock()
	g.errors++
	over := g.errors >= g.l.rc.MaxErrors && code != 421
	g.mu.Unlock()
	return over
}

func (g *guard) logRefusal(reply, reason string) {
	g.mu.Lock()
	args := []any{"remote", g.remote.String(), "helo", g.helo, "command", g.lastCmd, "reply", printable(strings.TrimRight(reply, "\r\n"), 512)}
	if reason != "" {
		args = append(args, "reason", reason)
	}
	args = append(args, g.notes...)
	g.notes = nil
	g.mu.Unlock()
	g.l.log.Info("refused", args...)
}

// replyCode reads the code of a reply line and whether it is the last line.
func replyCode(p []byte) (int, bool) {
	if len(p) < 4 {
		return 0, true
	}
	code, err := strconv.Atoi(string(p[:3]))
	if err != nil {
		return 0, true
	}
	return code, p[3] != '-'
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

func (g *guard) LocalAddr() net.Addr  { return g.raw.LocalAddr() }
func (g *guard) RemoteAddr() net.Addr { return g.raw.RemoteAddr() }

func (g *guard) SetDeadline(t time.Time) error      { return g.raw.SetDeadline(t) }
func (g *guard) SetReadDeadline(t time.Time) error  { return g.raw.SetReadDeadline(t) }
func (g *guard) SetWriteDeadline(t time.Time) error { return g.raw.SetWriteDeadline(t) }

// dataScan follows DATA byte by byte with the strict rule of RFC 5321
// section 4.1.1.4: only <CR><LF>.<CR><LF> ends it.
type dataScan struct {
	st      scanState
	lineLen int // bytes handed on since the last LF
	max     int // longest line content handed on (max_line_length less CRLF)

	// fixLF: the client is in the connector's bare_lf_ranges, so a bare LF
	// ends a line and is handed on as CRLF (see run).
	fixLF bool

	bareCR, bareLF, nul, long bool
	lfDot                     bool // fixLF: a lone "." next to a bare LF
	fixed                     int  // fixLF: bare LFs made CRLF
}

type scanState uint8

const (
	sBOL     scanState = iota // after CRLF (or at the start)
	sDot                      // "." at the start of a line
	sDotCR                    // ".", CR at the start of a line: a CR is held back
	sCR                       // a CR is held back
	sMid                      // inside a line
	sBOLLF                    // fixLF: after a bare LF, handed on as CRLF
	sLFDot                    // fixLF: "." after a bare LF, held back
	sLFDotCR                  // fixLF: ".", CR after a bare LF, both held back
)

// run scans in, appends what go-smtp is to read to out, and returns it with
// the number of bytes of in used and whether the end of data was reached
// (in is used up to and including it, and not beyond).
//
// A CR is held back until the next byte shows whether it is bare: a bare
// one is handed on as a space. go-smtp's reader then sees CR only in CRLF
// and agrees with this one on where the data ends (left alone, it would
// drop ".<CR>" before another byte, and miss an end of data that follows
// "<CR><CR><LF>"). Bare LF needs no change: it never ends a line for either.
//
// With fixLF (a legacy client the connector allows bare LF from, as
// Postfix's smtpd_forbid_bare_newline_exclusions) a bare LF ends a line
// and is handed on as CRLF, so the message is kept with CRLF line ends.
// The end of data stays <CR><LF>.<CR><LF> as the client sent it: a line
// holding only "." with a bare LF before or after it (<LF>.<LF>,
// <LF>.<CR><LF>, <CR><LF>.<LF>, the smuggling sequences of T01-T02) would
// become an end of data once its LF is made CRLF, so it is handed on
// dot-stuffed (".." and CRLF: content for go-smtp) and the message is
// refused after the real end of data (lfDot). Accepting it instead would
// glue what follows the client's would-be end (its next MAIL, RCPT and
// DATA, or a smuggler's) into this message; ending the data there would let
// a smuggler start a second message. Refusing is the safe side, and a
// sender that really ends its data with <LF>.<LF> gets no reply until the
// data timeout, which says plainly that it is broken.
func (d *dataScan) run(in, out []byte) ([]byte, int, bool) {
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c == 0 {
			d.nul = true
		}
		switch d.st {
		case sCR, sDotCR:
			if c == '\n' {
				out = append(out, '\r', '\n')
				d.lineLen = 0
				end := d.st == sDotCR
				d.st = sBOL
				if end {
					return out, i + 1, true
				}
				continue
			}
			d.bareCR = true
			out = d.emit(out, ' ')
			d.st = sMid
		case sLFDot:
			switch c {
			case '\r':
				d.st = sLFDotCR
				continue
			case '\n': // <LF>.<LF>
				out = d.lfDotLine(out)
				d.st = sBOLLF
				continue
			}
			out = d.emit(out, '.')
			d.st = sMid
		case sLFDotCR:
			if c == '\n' { // <LF>.<CR><LF>
				out = d.lfDotLine(out)
				d.st = sBOL
				continue
			}
			d.bareCR = true
			out = d.emit(d.emit(out, '.'), ' ')
			d.st = sMid
		}
		switch {
		case c == '\r':
			if d.st == sDot {
				d.st = sDotCR
			} else {
				d.st = sCR
			}
		case c == '\n' && d.fixLF:
			d.fixed++
			if d.st == sDot { // <CR><LF>.<LF>: the "." is handed on already
				d.lfDot = true
				out = d.emit(out, '.')
			}
			out = append(out, '\r', '\n')
			d.lineLen = 0
			d.st = sBOLLF
		case c == '\n':
			d.bareLF = true
			out = append(out, '\n')
			d.lineLen = 0
			d.st = sMid
		case c == '.' && d.st == sBOL:
			out = d.emit(out, c)
			d.st = sDot
		case c == '.' && d.st == sBOLLF:
			d.st = sLFDot
		default:
			out = d.emit(out, c)
			d.st = sMid
		}
	}
	return out, len(in), false
}

// lfDotLine hands on a lone "." next to a bare LF dot-stuffed, as content,
// and marks the message refused.
func (d *dataScan) lfDotLine(out []byte) []byte {
	d.lfDot = true
	d.fixed++
	out = d.emit(d.emit(out, '.'), '.')
	d.lineLen = 0
	return append(out, '\r', '\n')
}

// emit hands on a byte of line content, unless the line is over the limit:
// the rest of it is dropped (the message will be refused) so that go-smtp's
// own line limit, which would end the session, never fires.
func (d *dataScan) emit(out []byte, c byte) []byte {
	if d.lineLen >= d.max {
		d.long = true
		return out
	}
	d.lineLen++
	return append(out, c)
}

// pathEnd returns the length of the path at the start of s (a MAIL or RCPT
// argument after "FROM:" or "TO:"), as go-smtp's parser finds it.
func pathEnd(s string) int {
	quoted := false
	bracket := strings.HasPrefix(s, "<")
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case bracket && c == '>':
			return i + 1
		case !bracket && (c == ' ' || c == '\t'):
			return i
		}
	}
	return len(s)
}

// mailboxOf strips the brackets and any source route from a path.
func mailboxOf(path string) string {
	path = strings.TrimPrefix(path, "<")
	path = strings.TrimSuffix(path, ">")
	if strings.HasPrefix(path, "@") {
		if i := strings.IndexByte(path, ':'); i >= 0 {
			path = path[i+1:]
		}
	}
	return path
}

// takeORCPT removes an ORCPT parameter whose address type go-smtp does not
// know (it knows rfc822 and utf-8) from the parameters of a RCPT line and
// returns the rest and "type;address" with the xtext decoded. RFC 3461
// section 4.2 allows any addr-type, x400 among them. A malformed one is left
// for go-smtp to refuse.
func takeORCPT(params string) (rest, orcpt string, ok bool) {
	fields := strings.Fields(params)
	at := -1
	for i, f := range fields {
		k, _, _ := strings.Cut(f, "=")
		if strings.EqualFold(k, "ORCPT") {
			if at >= 0 {
				return "", "", false
			}
			at = i
		}
	}
	if at < 0 {
		return "", "", false
	}
	_, v, _ := strings.Cut(fields[at], "=")
	typ, enc, found := strings.Cut(v, ";")
	if !found || !isAtom(typ) || enc == "" || strings.EqualFold(typ, "rfc822") || strings.EqualFold(typ, "utf-8") {
		return "", "", false
	}
	addr, good := decodeXtext(enc)
	if !good {
		return "", "", false
	}
	var b strings.Builder
	for i, f := range fields {
		if i != at {
			b.WriteByte(' ')
			b.WriteString(f)
		}
	}
	return b.String(), strings.ToLower(typ) + ";" + addr, true
}

func isAtom(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// decodeXtext decodes RFC 3461 section 4 xtext ("+" and two upper-case hex
// digits); the result must be printable ASCII, so that no CR, LF or other
// control character reaches a header, a report or a log.
func decodeXtext(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '+' {
			if i+2 >= len(s) || !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) {
				return "", false
			}
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			c = byte(n)
			i += 2
		} else if c == '=' {
			return "", false
		}
		if c < 0x20 || c > 0x7e {
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}
