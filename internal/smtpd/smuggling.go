package smtpd

// Data scanning against SMTP smuggling: only <CR><LF>.<CR><LF> ends DATA
// (RFC 5321 section 4.1.1.4; doc.go, SMTP smuggling).

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
// <LF>.<CR><LF>, <CR><LF>.<LF>, the SMTP smuggling sequences) would
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
