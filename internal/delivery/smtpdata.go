package delivery

// The content of DATA as the client writes it (RFC 5321 section 4.1.1.4
// and 4.5.2): dot-stuffed, ended by CRLF "." CRLF, each write under its own
// time limit.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"time"
)

// dotWriter writes content for DATA. A "." that starts a line gets another
// "." before it (section 4.5.2). A line starts after every LF, bare or in
// CRLF, so that no receiver, strict or lenient about bare LF, can take
// content for the end of data. Line ends are written as they are.
type dotWriter struct {
	w    *bufio.Writer
	tail [2]byte // the last two bytes written; CRLF at the start
}

func newDotWriter(w *bufio.Writer) *dotWriter {
	return &dotWriter{w: w, tail: [2]byte{'\r', '\n'}}
}

func (d *dotWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if d.tail[1] == '\n' && p[0] == '.' {
			if err := d.w.WriteByte('.'); err != nil {
				return n, err
			}
		}
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line = p[:i+1]
		}
		m, err := d.w.Write(line)
		n += m
		if err != nil {
			return n, err
		}
		if len(line) >= 2 {
			d.tail = [2]byte{line[len(line)-2], line[len(line)-1]}
		} else {
			d.tail = [2]byte{d.tail[1], line[0]}
		}
		p = p[len(line):]
	}
	return n, nil
}

// end writes the end of data: CRLF first unless the content ends with one
// (a trailing CR gets its LF), then "." CRLF, and sends what is buffered.
func (d *dotWriter) end() error {
	switch {
	case d.tail == [2]byte{'\r', '\n'}:
	case d.tail[1] == '\r':
		d.w.WriteByte('\n')
	default:
		d.w.WriteString("\r\n")
	}
	d.w.WriteString(".\r\n")
	return d.w.Flush()
}

// deadlineWriter gives each write of the content its own time limit, so
// that a stalled server cannot hold a delivery forever (RFC 5321 section
// 4.5.3.2.5: 3 minutes a data block; the agent's Timeout here).
type deadlineWriter struct {
	w       io.Writer
	conn    net.Conn
	timeout time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.conn.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.w.Write(p)
}

// finalReplyTimeout is the wait for the reply to the final ".": RFC 5321
// section 4.5.3.2.6 says 10 minutes, and 2 more allow for a server that
// passes the message on before it answers (go-smtp's client waited as
// long).
const finalReplyTimeout = 12 * time.Minute

// content writes the content from r, dot-stuffed, and the end of data, and
// reads the reply. err is a failure to read r or to write, or a broken
// connection; the reply's code says whether the server took the message.
// After a failure to write the caller must close the connection: the
// final "." was not sent, and must never be, lest the server take part of
// a message for the whole.
func (c *client) content(r io.Reader, header func(io.Writer) error) (*smtpReply, error) {
	dw := newDotWriter(c.w)
	w := &deadlineWriter{w: dw, conn: c.raw, timeout: c.timeout}
	if err := header(w); err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, r); err != nil {
		return nil, err
	}
	c.raw.SetWriteDeadline(time.Now().Add(c.timeout))
	if err := dw.end(); err != nil {
		return nil, err
	}
	c.raw.SetReadDeadline(time.Now().Add(max(c.timeout, finalReplyTimeout)))
	reply, err := readReply(c.r)
	if err != nil {
		return nil, fmt.Errorf("reading the reply to the end of data: %w", err)
	}
	return reply, nil
}
