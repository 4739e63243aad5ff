package smtpd

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/config"
)

// bodyReader passes the message content from go-smtp's DATA (or BDAT) reader
// to the queue and checks it on the way. At the end it fails, instead of
// returning io.EOF, when the message must be refused, so that the queue
// keeps nothing; refusal holds the reply. Checks that need the raw stream
// (a bare CR, which the guard hands on as a space) come from the guard's
// dataScan; this reader checks what it sees too, which covers BDAT.
type bodyReader struct {
	r       io.Reader
	scan    *dataScan // nil for BDAT
	maxLine int       // longest line, CRLF included
	maxHops int
	maxSize int64 // 0: no limit
	maxHead int64 // longest header section; 0: no limit

	n        int64
	prevCR   bool
	lineLen  int
	header   bool   // still in the header section
	head     []byte // first bytes of the current header line
	hstate   headState
	headLen  int64 // bytes of the header section so far
	received int   // Received header fields seen

	bareCR, bareLF, nul, long bool

	refusal *smtp.SMTPError // the message is refused with this reply
	readErr error           // the client's data could not be read
	eof     bool            // the whole message was read and may be kept
}

func newBodyReader(r io.Reader, scan *dataScan, rc *config.ReceiveConnector) *bodyReader {
	return &bodyReader{r: r, scan: scan, maxLine: rc.MaxLineLength, maxHops: rc.MaxHopCount, maxSize: rc.MaxMessageSize, maxHead: rc.MaxHeaderSize, header: true, head: make([]byte, 0, 16)}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	switch {
	case b.refusal != nil:
		return 0, b.refusal
	case b.readErr != nil:
		return 0, b.readErr
	case b.eof:
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	b.inspect(p[:n])
	// These are known before the end of the data: the queue need not keep
	// the rest (go-smtp reads it to the end of data before it replies).
	switch {
	case b.received > b.maxHops:
		b.refusal = replyHopCount
		return 0, b.refusal
	case b.maxHead > 0 && b.headLen > b.maxHead:
		b.refusal = replyHeaderTooBig(b.maxHead)
		return 0, b.refusal
	case b.maxSize > 0 && b.n > b.maxSize:
		b.refusal = replyTooBig(b.maxSize)
		return 0, b.refusal
	}
	switch {
	case err == io.EOF:
		if b.refusal = b.verdict(); b.refusal != nil {
			return 0, b.refusal
		}
		b.eof = true
		return n, io.EOF
	case errors.Is(err, smtp.ErrDataTooLarge):
		b.refusal = replyTooBig(b.maxSize)
		return 0, b.refusal
	case err != nil:
		b.readErr = err
		return 0, err
	}
	return n, nil
}

// verdict is the refusal of a message read to its end, or nil.
func (b *bodyReader) verdict() *smtp.SMTPError {
	bareCR, bareLF, nul, long := b.bareCR || b.prevCR, b.bareLF, b.nul, b.long
	if s := b.scan; s != nil {
		bareCR, bareLF, nul, long = bareCR || s.bareCR, bareLF || s.bareLF, nul || s.nul, long || s.long
	}
	switch {
	case b.scan != nil && b.scan.lfDot:
		return replyLFDot
	case bareCR || bareLF:
		return replyBareNewline
	case nul:
		return replyNUL
	case long:
		return replyLineTooLong(b.maxLine)
	}
	return nil
}

func (b *bodyReader) inspect(p []byte) {
	b.n += int64(len(p))
	for _, c := range p {
		switch {
		case c == 0:
			b.nul = true
		case c == '\n' && !b.prevCR:
			b.bareLF = true
		case c != '\n' && b.prevCR:
			b.bareCR = true
		}
		b.prevCR = c == '\r'
		b.lineLen++
		if b.lineLen > b.maxLine {
			b.long = true
		}
		if !b.header {
			if c == '\n' {
				b.lineLen = 0
			}
			continue
		}
		b.headLen++
		if len(b.head) < cap(b.head) {
			b.head = append(b.head, c)
		}
		if c == '\n' {
			b.lineLen = 0
			switch h := string(b.head); {
			case h == "\r\n" || h == "\n":
				b.header = false // the empty line ends the header section
			case b.hstate != hField:
				b.header = false // so does a line that is not a header field: it is the body's
			case isReceived(h):
				b.received++
			}
			b.head = b.head[:0]
			b.hstate = hStart
			continue
		}
		b.hstate = b.hstate.next(c)
	}
}

// headState follows one line of the header section far enough to tell a
// header field ("Name:" or "Name :", RFC 5322 sections 2.2 and 4.5.3) or a
// folded continuation from a line that is neither.
type headState uint8

const (
	hStart  headState = iota // at the start of a line
	hName                    // in a field name
	hNameWS                  // blanks after a field name (obsolete syntax)
	hField                   // the line is a field or a continuation
	hOther                   // the line is neither
)

func (h headState) next(c byte) headState {
	switch h {
	case hStart:
		switch {
		case c == ' ' || c == '\t':
			return hField
		case c == '\r':
			return hStart // the empty line, or a bare CR (refused anyway)
		case c > ' ' && c < 0x7f && c != ':':
			return hName
		}
		return hOther
	case hName:
		switch {
		case c == ':':
			return hField
		case c == ' ' || c == '\t':
			return hNameWS
		case c > ' ' && c < 0x7f:
			return hName
		}
		return hOther
	case hNameWS:
		switch c {
		case ':':
			return hField
		case ' ', '\t':
			return hNameWS
		}
		return hOther
	}
	return h
}

// isReceived reports whether a header line starts a Received field
// (RFC 5322 section 3.6.7, with the obsolete blanks before the colon).
func isReceived(h string) bool {
	if !hasPrefixFold(h, "Received") {
		return false
	}
	h = strings.TrimLeft(h[len("Received"):], " \t")
	return strings.HasPrefix(h, ":")
}

// received is the Received header field the receiver adds (RFC 5321
// section 4.4): the client's greeting and address (no reverse DNS name),
// this server, the protocol (RFC 3848, RFC 6531), the receive id, the
// recipient when there is one, and the date. The Return-Path is added on
// delivery, not here.
func received(helo string, ip netip.Addr, fqdn, proto, id string, rcpts []Recipient, now time.Time) string {
	if helo == "" {
		helo = "unknown"
	}
	var b strings.Builder
	b.WriteString("Received: from ")
	b.WriteString(helo)
	b.WriteString(" (")
	b.WriteString(addressLiteral(ip))
	b.WriteString(")\r\n\tby ")
	b.WriteString(fqdn)
	b.WriteString(" with ")
	b.WriteString(proto)
	b.WriteString(" id ")
	b.WriteString(id)
	if len(rcpts) == 1 {
		b.WriteString("\r\n\tfor <")
		b.WriteString(rcpts[0].Written)
		b.WriteString(">")
	}
	b.WriteString(";\r\n\t")
	b.WriteString(now.Format(time.RFC1123Z))
	b.WriteString("\r\n")
	return b.String()
}

// protocol is the "with" keyword of the Received field: SMTP, ESMTP or
// UTF8SMTP, with S after STARTTLS and A after AUTH (RFC 3848, RFC 6531
// section 3.7.3).
func protocol(esmtp, utf8, tls, auth bool) string {
	if !esmtp {
		return "SMTP"
	}
	p := "ESMTP"
	if utf8 {
		p = "UTF8SMTP"
	}
	if tls {
		p += "S"
	}
	if auth {
		p += "A"
	}
	return p
}

// addressLiteral is the RFC 5321 section 4.1.3 form of ip.
func addressLiteral(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is4() {
		return "[" + ip.String() + "]"
	}
	return "[IPv6:" + ip.WithZone("").String() + "]"
}

var receiveIDEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newReceiveID names a message in the Received field and the log before the
// queue has given it an id.
func newReceiveID() string {
	var b [10]byte
	rand.Read(b[:])
	return receiveIDEncoding.EncodeToString(b[:])
}
