package delivery

// The SMTP client of the SMTP agent: one session with a server on one TCP
// connection (RFC 5321), with PIPELINING (RFC 2920), STARTTLS on the same
// connection (RFC 3207), AUTH with any SASL client (RFC 4954) and the
// replies' enhanced status codes (RFC 2034, RFC 3463). No Go library does
// client pipelining, hence this file; smtpreply.go reads the replies and
// smtpdata.go writes the content.

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
)

// client is one SMTP session. It is not safe for concurrent use.
type client struct {
	raw     net.Conn // the TCP connection: deadlines and the peer's address
	conn    net.Conn // raw, or TLS over it after STARTTLS
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration     // for each command and its reply
	final   time.Duration     // for the reply to the final "."; 0: max(timeout, finalReplyTimeout)
	ext     map[string]string // EHLO keywords, upper case, and their parameters
	peer    string            // the name the server gives itself in its EHLO (or HELO) reply
	tls     bool
	lmtp    bool         // an LMTP session (RFC 2033): LHLO, one reply per recipient after the content
	log     *slog.Logger // for a recovered panic; nil: slog.Default()
}

func newClient(raw net.Conn, timeout time.Duration) *client {
	c := &client{raw: raw, timeout: timeout}
	c.setConn(raw)
	return c
}

func (c *client) setConn(conn net.Conn) {
	c.conn = conn
	c.r = bufio.NewReader(conn)
	c.w = bufio.NewWriter(conn)
}

// finalTimeout is the wait for the reply to the final ".".
func (c *client) finalTimeout() time.Duration {
	if c.final > 0 {
		return c.final
	}
	return max(c.timeout, finalReplyTimeout)
}

// deadline gives the next exchange the client's time limit.
func (c *client) deadline() {
	c.raw.SetDeadline(time.Now().Add(c.timeout))
}

// cmd sends one command line and reads its reply. err is a broken
// connection or a malformed reply, never a refusal: the reply says that.
func (c *client) cmd(line string) (*smtpReply, error) {
	verb, _, _ := strings.Cut(line, " ")
	return c.exchange(verb, line)
}

// exchange is cmd with the name of the line for errors (a SASL response
// must not appear in one).
func (c *client) exchange(verb, line string) (*smtpReply, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, fmt.Errorf("%s: the command has a line break", verb)
	}
	c.deadline()
	c.w.WriteString(line)
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return nil, fmt.Errorf("sending %s: %w", verb, err)
	}
	r, err := readReply(c.r)
	if err != nil {
		return nil, fmt.Errorf("reading the reply to %s: %w", verb, err)
	}
	return r, nil
}

// greet reads the server's greeting, which must be 220 (RFC 5321 section
// 4.3.1); any other reply is returned as the error.
func (c *client) greet() error {
	c.deadline()
	r, err := readReply(c.r)
	if err != nil {
		return fmt.Errorf("reading the greeting: %w", err)
	}
	if r.Code != 220 {
		return r
	}
	return nil
}

// hello sends EHLO and keeps the extensions offered; a server that refuses
// EHLO (5xx) gets HELO and is taken to offer none (RFC 5321 section 3.2).
// An LMTP session sends LHLO instead, and has no HELO to fall back on (RFC
// 2033 section 4.1).
func (c *client) hello(name string) error {
	c.ext = map[string]string{}
	verb := "EHLO "
	if c.lmtp {
		verb = "LHLO "
	}
	r, err := c.cmd(verb + name)
	if err != nil {
		return err
	}
	if r.Code/100 == 5 && !c.lmtp {
		if r, err = c.cmd("HELO " + name); err != nil {
			return err
		}
		if r.Code != 250 {
			return r
		}
		c.peer, _, _ = strings.Cut(r.Lines[0], " ")
		return nil
	}
	if r.Code != 250 {
		return r
	}
	c.peer, _, _ = strings.Cut(r.Lines[0], " ")
	for _, l := range r.Lines[1:] {
		kw, param, _ := strings.Cut(l, " ")
		kw = strings.ToUpper(kw)
		if strings.HasPrefix(kw, "AUTH=") { // an old form of AUTH
			kw, param = "AUTH", strings.TrimSpace(l[len("AUTH="):]+" "+param)
			if _, ok := c.ext[kw]; ok {
				continue
			}
		}
		c.ext[kw] = param
	}
	return nil
}

// has reports whether the server offered the extension keyword kw.
func (c *client) has(kw string) bool {
	_, ok := c.ext[kw]
	return ok
}

// supportsAuth reports whether the server offered the SASL mechanism.
func (c *client) supportsAuth(mech string) bool {
	for _, m := range strings.Fields(c.ext["AUTH"]) {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// startTLS sends STARTTLS and, at 220, does the TLS handshake over the same
// TCP connection (RFC 3207 section 4). The extensions are forgotten: the
// caller greets again (section 4.2).
func (c *client) startTLS(cfg *tls.Config) error {
	r, err := c.cmd("STARTTLS")
	if err != nil {
		return err
	}
	if r.Code != 220 {
		return r
	}
	if c.r.Buffered() > 0 {
		// Bytes that came before the handshake must not be read as if
		// they came through TLS.
		return errors.New("the server sent more than its reply to STARTTLS before the TLS handshake")
	}
	tc := tls.Client(c.raw, cfg)
	c.deadline()
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	c.setConn(tc)
	c.tls = true
	c.ext = nil
	return nil
}

// auth logs in with the SASL client s (RFC 4954 section 4): AUTH with the
// initial response when s has one, then a base64 response to each 334
// challenge, until 235. Any other reply is returned as the error; a
// challenge s cannot answer cancels the exchange with "*" (section 4).
// Every step checks its own error: a connection that breaks after a 334
// is an error, never a nil reply read as a challenge.
func (c *client) auth(s sasl.Client) error {
	mech, resp, err := s.Start()
	if err != nil {
		return fmt.Errorf("starting SASL: %w", err)
	}
	line := "AUTH " + mech
	switch {
	case len(resp) > 0:
		line += " " + base64.StdEncoding.EncodeToString(resp)
	case resp != nil:
		line += " =" // an empty initial response (section 4)
	}
	r, err := c.cmd(line)
	for step := 1; ; step++ {
		if err != nil {
			return fmt.Errorf("AUTH %s step %d: %w", mech, step, err)
		}
		switch r.Code {
		case 235:
			return nil
		case 334:
		default:
			return r
		}
		if resp, err = c.answer(s, mech, r); err != nil {
			c.cancelAuth()
			return err
		}
		r, err = c.exchange("the AUTH "+mech+" response", base64.StdEncoding.EncodeToString(resp))
	}
}

// answer decodes the 334 challenge r and gives s's response to it.
func (c *client) answer(s sasl.Client, mech string, r *smtpReply) ([]byte, error) {
	challenge, err := base64.StdEncoding.DecodeString(strings.Join(r.Lines, ""))
	if err != nil {
		return nil, fmt.Errorf("the %s challenge is not base64: %w", mech, err)
	}
	resp, err := s.Next(challenge)
	if err != nil {
		return nil, fmt.Errorf("answering the %s challenge: %w", mech, err)
	}
	return resp, nil
}

// cancelAuth ends an AUTH exchange the client cannot go on with (RFC 4954
// section 4: "*", answered 501). Its outcome does not matter: the session
// is closed after a failed login.
func (c *client) cancelAuth() {
	c.cmd("*")
}

// envelope is what the server said to MAIL, the RCPTs and DATA of one
// transaction.
type envelope struct {
	// mail is MAIL's refusal, or the broken connection that left it
	// unanswered; nil: accepted.
	mail error
	// rcpt is each RCPT's refusal, nil when accepted (or, after a broken
	// connection, unanswered).
	rcpt []error
	// data is DATA's refusal; nil: 354, the content is to follow (or DATA
	// was not sent: not asked for, MAIL refused or no recipient accepted).
	data error
	// reset: DATA was answered 354 though MAIL or every RCPT was refused;
	// it was ended with an empty message and the session needs RSET.
	reset bool
}

// accepted counts the recipients the server took.
func (e *envelope) accepted() int {
	n := 0
	for _, err := range e.rcpt {
		if err == nil {
			n++
		}
	}
	return n
}

// begin sends MAIL, the RCPTs and, when data is set, DATA, and reads their
// replies. With PIPELINING offered all of them go in one write and the
// replies are read in order (RFC 2920 section 3.1); without it, one
// command at a time, stopping after a refused MAIL and before DATA when no
// RCPT was accepted. err is a broken connection (or a malformed reply):
// the session is unusable, and the replies read so far are in env.
func (c *client) begin(mail string, rcpts []string, data bool) (env envelope, err error) {
	env.rcpt = make([]error, len(rcpts))
	lines := append([]string{mail}, rcpts...)
	if data {
		lines = append(lines, "DATA")
	}
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			err = errors.New("a command of the transaction has a line break")
			env.mail = err
			return env, err
		}
	}
	if !c.has("PIPELINING") {
		return c.beginEach(lines, data)
	}

	c.deadline()
	var batch []byte
	for _, l := range lines {
		batch = append(append(batch, l...), "\r\n"...)
	}
	// One write (bufio writes a batch larger than its buffer directly).
	// It runs beside the reading, so that a long batch cannot deadlock
	// with a server that waits for its replies to be read.
	written := make(chan error, 1)
	panicked := false // set before the send on written, read after the receive
	go func() {
		defer func() {
			if v := recover(); v != nil {
				panicked = true
				c.raw.SetReadDeadline(time.Now()) // the replies will not come: stop waiting
				written <- panicError(c.log, "sending MAIL, RCPT and DATA", v)
			}
		}()
		_, err := c.w.Write(batch)
		if err == nil {
			err = c.w.Flush()
		}
		written <- err
	}()
	env, err = c.readEnvelope(len(rcpts), data)
	if err != nil {
		c.raw.SetWriteDeadline(time.Now()) // stop a write that is stuck
	}
	if werr := <-written; werr != nil && (err == nil || panicked) {
		err = fmt.Errorf("sending MAIL, RCPT and DATA: %w", werr)
	}
	if err != nil {
		return env, err
	}
	if data && env.data == nil && (env.mail != nil || env.accepted() == 0) {
		// RFC 2920 section 3.1: a server may take DATA though every RCPT
		// was refused; the client then sends a single dot (and RSET).
		env.reset = true
		if err := c.endEmpty(); err != nil {
			return env, err
		}
	}
	return env, nil
}

// readEnvelope reads the replies to a pipelined MAIL, its n RCPTs and DATA.
func (c *client) readEnvelope(n int, data bool) (env envelope, err error) {
	env.rcpt = make([]error, n)
	read := func(what string) (*smtpReply, error) {
		r, err := readReply(c.r)
		if err != nil {
			return nil, fmt.Errorf("reading the reply to %s: %w", what, err)
		}
		return r, nil
	}
	r, err := read("MAIL")
	if err != nil {
		env.mail = err
		return env, err
	}
	if r.Code/100 != 2 {
		env.mail = r
	}
	for i := range n {
		if r, err = read("RCPT"); err != nil {
			return env, err
		}
		if r.Code/100 != 2 {
			env.rcpt[i] = r
		}
	}
	if !data {
		return env, nil
	}
	if r, err = read("DATA"); err != nil {
		return env, err
	}
	if r.Code != 354 {
		env.data = r
	}
	return env, nil
}

// beginEach is begin without PIPELINING.
func (c *client) beginEach(lines []string, data bool) (env envelope, err error) {
	n := len(lines) - 1
	if data {
		n--
	}
	env.rcpt = make([]error, n)
	r, err := c.cmd(lines[0])
	if err != nil {
		env.mail = err
		return env, err
	}
	if r.Code/100 != 2 {
		env.mail = r
		return env, nil
	}
	for i := range n {
		if r, err = c.cmd(lines[1+i]); err != nil {
			return env, err
		}
		if r.Code/100 != 2 {
			env.rcpt[i] = r
		}
	}
	if !data || env.accepted() == 0 {
		return env, nil
	}
	if r, err = c.cmd("DATA"); err != nil {
		return env, err
	}
	if r.Code != 354 {
		env.data = r
	}
	return env, nil
}

// endEmpty ends a DATA that has nothing to send with the "." line alone.
func (c *client) endEmpty() error {
	c.deadline()
	c.w.WriteString(".\r\n")
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("ending an empty DATA: %w", err)
	}
	if _, err := readReply(c.r); err != nil {
		return fmt.Errorf("reading the reply to an empty DATA: %w", err)
	}
	return nil
}

// reset sends RSET: no transaction is open after it.
func (c *client) reset() error {
	r, err := c.cmd("RSET")
	if err != nil {
		return err
	}
	if r.Code/100 != 2 {
		return r
	}
	return nil
}

// quit sends QUIT, waits for the reply as long as the client's timeout,
// and closes the connection whatever the answer.
func (c *client) quit() {
	c.cmd("QUIT")
	c.close()
}

// close closes the connection without a word.
func (c *client) close() error {
	return c.conn.Close()
}
