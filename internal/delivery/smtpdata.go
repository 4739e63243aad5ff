package delivery

// The content of DATA as the client writes it (RFC 5321 section 4.1.1.4
// and 4.5.2): dot-stuffed, CRLF line ends, ended by CRLF "." CRLF, each
// write under its own time limit.

import (
	"fmt"
	"io"
	"net"
	"net/textproto"
	"sync"
	"time"
)

// copyBuffers are the buffers the content is copied through, kept between
// deliveries: io.Copy would allocate 32 KiB for each message, which at a
// backlog's thousands of messages a second is most of what the garbage
// collector and the scavenger do (docs/performance.md, "Backlog drain and
// queue administration").
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

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
	n, err := d.w.Write(p)
	if err != nil {
		err = fmt.Errorf("sending the content: %w", err)
	}
	return n, err
}

// finalReplyTimeout is the default wait for the reply to the final ".":
// RFC 5321 section 4.5.3.2.6 says 10 minutes, and 2 more allow for a
// server that passes the message on before it answers (go-smtp's client
// waited as long). SMTP.FinalTimeout sets another.
const finalReplyTimeout = 12 * time.Minute

// content writes the content from r, dot-stuffed, and the end of data, and
// reads the reply. err is a failure to read r or to write, or a broken
// connection; the reply's code says whether the server took the message.
// After a failure to write the caller must close the connection: the
// final "." was not sent, and must never be, lest the server take part of
// a message for the whole.
func (c *client) content(r io.Reader, header func(io.Writer) error) (*smtpReply, error) {
	if err := c.writeContent(r, header); err != nil {
		return nil, err
	}
	c.raw.SetReadDeadline(time.Now().Add(c.finalTimeout()))
	reply, err := readReply(c.r)
	if err != nil {
		return nil, fmt.Errorf("reading the reply to the end of data: %w", err)
	}
	return reply, nil
}

// writeContent writes the header lines, the content from r, dot-stuffed,
// and the end of data; content and the LMTP agent read the replies.
func (c *client) writeContent(r io.Reader, header func(io.Writer) error) error {
	// net/textproto's DotWriter dot-stuffs, writes every line end as CRLF
	// (RFC 5321 section 2.3.8: a client MUST NOT send a bare LF; the next
	// server could take one for a line end, and "LF . LF" for the end of
	// data), and ends the content with CRLF "." CRLF.
	dw := textproto.NewWriter(c.w).DotWriter()
	w := &deadlineWriter{w: dw, conn: c.raw, timeout: c.timeout}
	if err := header(w); err != nil {
		return err
	}
	buf := copyBuffers.Get().(*[]byte)
	_, err := io.CopyBuffer(w, r, *buf)
	copyBuffers.Put(buf)
	if err != nil {
		return err
	}
	c.raw.SetWriteDeadline(time.Now().Add(c.timeout))
	if err := dw.Close(); err != nil {
		return fmt.Errorf("ending the content: %w", err)
	}
	return nil
}
