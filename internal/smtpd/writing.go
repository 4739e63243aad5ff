package smtpd

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"
	"github.com/waypost/waypost/internal/mailtext"
)

// Writing replies: the guard's own and go-smtp's, with the EHLO reply
// completed, refusals logged and counted, and max_errors enforced.

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
	args := []any{"remote", g.remote.String(), "helo", g.helo, "command", g.lastCmd, "reply", mailtext.Printable(strings.TrimRight(reply, "\r\n"), 512)}
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
