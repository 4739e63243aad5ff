package smtpd

import (
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/mailtext"
	"github.com/waypost/waypost/internal/status"
	"github.com/waypost/waypost/internal/xtext"
)

// Parsing command lines before go-smtp does (RFC 5321 section 4.1):
// unknown and malformed ones answered here, MAIL and RCPT paths, x400
// ORCPTs (RFC 3461 section 4.2), BDAT sizes.

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
		g.lastCmd = mailtext.Printable(text, 60)
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
			g.helo = mailtext.Printable(domain, 255)
			g.esmtp = verb == "EHLO"
			if g.tlsState != nil {
				g.greetedTLS = true
			}
		}
		g.mu.Unlock()
		summary = verb + " " + mailtext.Printable(arg, 255)
	case "MAIL", "RCPT":
		prefix := "FROM:"
		if verb == "RCPT" {
			prefix = "TO:"
		}
		summary = verb + " " + mailtext.Printable(arg, 300)
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
				g.note("rcpt", mailtext.Printable(mailbox, 300))
				g.writeReply(reply(status.ReplyParamSyntax, status.BadMailboxSyntax, "Bad recipient address syntax: "+mailtext.Printable(err.Error(), 200)))
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
		summary = "AUTH " + mailtext.Printable(mech, 20)
	case "BDAT":
		if n, ok := bdatSize(arg); ok && n > 0 {
			g.chunkLeft = n
			g.mu.Lock()
			g.startDataLocked()
			g.phase = phaseChunk
			g.mu.Unlock()
		}
		summary = "BDAT " + mailtext.Printable(arg, 40)
	default:
		summary = mailtext.Printable(text, 60)
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

// badCommand returns the reply to a command line that go-smtp would refuse
// as malformed or unknown (its parseCmd), and whether to close after it,
// or nil for a line go-smtp is to answer.
func badCommand(text string) (*smtp.SMTPError, bool) {
	if isHTTP(text) {
		return replyNotSMTP, true
	}
	switch l := len(text); {
	case hasPrefixFold(text, "STARTTLS"):
		return nil, false
	case l == 0:
		return reply(status.ReplySyntaxError, status.SyntaxError, "Error: bad syntax"), false
	case l < 4 || l == 5 || l > 5 && text[4] != ' ':
		return reply(status.ReplyParamSyntax, status.SyntaxError, "Bad command"), false
	}
	if verb := strings.ToUpper(text[:4]); !smtpVerbs[verb] {
		return reply(status.ReplySyntaxError, status.SyntaxError, "Command unrecognized: "+mailtext.Printable(verb, 4)), false
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
	addr, good := xtext.Decode(enc)
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

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}
