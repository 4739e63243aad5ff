package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/status"
)

// LMTP hands the mailboxes of this hub to a local mail store (Dovecot's
// LMTP service, or any RFC 2033 server) instead of writing Maildirs: one
// transaction per message with all of its recipients, RCPT with each
// mailbox's primary SMTP address, and after the content one reply per
// accepted recipient (RFC 2033 section 4.2), each that recipient's result:
// 2xx delivered, 4xx retry, 5xx failed. The LMTP server is the final
// delivery, so a delivered recipient is Delivered, not Relayed.
//
// It is the SMTP agent's client (smtpclient.go) with LHLO for EHLO:
// PIPELINING is required of every LMTP server (RFC 2033 section 5), so MAIL,
// the RCPTs and DATA go in one write; with Pool set, connections are kept
// between messages as the SMTP agent keeps them (pool.go).
type LMTP struct {
	// Address is host:port, or "unix:" and the path of a unix socket
	// (e.g. "unix:/run/dovecot/lmtp").
	Address string
	Helo    string // our name in LHLO (default "localhost")
	Timeout time.Duration
	// FinalTimeout is the wait for the replies after the final "."
	// (default as the SMTP agent's, 12 minutes).
	FinalTimeout time.Duration
	// MaxRecipients is the most recipients of one transaction (default
	// DefaultMaxRecipients).
	MaxRecipients int
	Pool          *Pool
	Log           *slog.Logger
}

// Deliver implements Agent. A panic is recovered and logged with its
// stack, and every recipient is retried (4.3.0).
func (a *LMTP) Deliver(ctx context.Context, m *Message) (res []Result) {
	defer func() {
		if v := recover(); v != nil {
			err := panicError(a.Log, "delivering message "+m.ID+" over LMTP", v)
			res = every(len(m.Recipients), Result{Class: Retry, Status: status.SystemTransient, Text: err.Error()})
		}
	}()
	limit := a.MaxRecipients
	if limit <= 0 {
		limit = DefaultMaxRecipients
	}
	res = make([]Result, 0, len(m.Recipients))
	for start := 0; start < len(m.Recipients); start += limit {
		sub := *m
		sub.Recipients = m.Recipients[start:min(start+limit, len(m.Recipients))]
		res = append(res, a.deliverBatch(ctx, &sub)...)
	}
	return res
}

// LMTPRecipient is the address RCPT names for a mailbox recipient: the
// mailbox's primary SMTP address, which its folder name holds (Folder), so
// that the mail store knows each mailbox by one name whatever proxy address
// the sender used. A recipient without a folder is sent as addressed.
func LMTPRecipient(r Recipient) (string, error) {
	if r.Folder == "" || strings.HasPrefix(r.Folder, "_") {
		if !strings.EqualFold(r.Type, "SMTP") {
			return "", fmt.Errorf("no SMTP address for %s:%s", r.Type, r.Address)
		}
		return r.Address, nil
	}
	a, err := url.PathUnescape(r.Folder)
	if err != nil {
		return "", fmt.Errorf("mailbox folder %q: %w", r.Folder, err)
	}
	return a, nil
}

func (a *LMTP) deliverBatch(ctx context.Context, m *Message) []Result {
	n := len(m.Recipients)
	host := a.Address
	res := make([]Result, n)
	var idx []int
	var rcpts []string
	for i, r := range m.Recipients {
		to, err := LMTPRecipient(r)
		if err == nil && strings.ContainsAny(to, "\r\n<>") {
			err = errors.New("the address has a line break or an angle bracket")
		}
		if err != nil {
			res[i] = Result{Class: Failed, Status: status.BadMailboxSyntax, Text: err.Error()}
			continue
		}
		idx, rcpts = append(idx, i), append(rcpts, "RCPT TO:<"+to+">")
	}
	if len(idx) == 0 {
		return res
	}
	body, bodyErr := m.Open()
	if bodyErr != nil {
		return fillResult(res, Result{Class: Retry, Status: status.SystemTransient, Text: "reading the queued message: " + bodyErr.Error()})
	}
	defer body.Close()
	cn, fail := a.open(ctx)
	if fail != nil {
		return fillResult(res, *fail)
	}
	defer func() {
		if v := recover(); v != nil {
			cn.c.close()
			panic(v)
		}
	}()
	mail := "MAIL FROM:<" + m.From + ">"
	if cn.c.has("8BITMIME") {
		mail += " BODY=8BITMIME"
	}
	env, err := cn.c.begin(mail, rcpts, true)
	if env.mail != nil && cn.reused {
		// A kept connection that the server closed meanwhile: start
		// afresh; this is no attempt.
		cn.c.close()
		if cn, fail = a.dial(ctx); fail != nil {
			return fillResult(res, *fail)
		}
		env, err = cn.c.begin(mail, rcpts, true)
	}
	if env.mail != nil {
		r := reply(host, env.mail, status.BadConnection)
		ok := err == nil && !closing(env.mail)
		if ok && env.reset {
			ok = cn.c.reset() == nil
		}
		a.finish(cn, ok)
		return fillResult(res, r)
	}
	var accepted []int // indexes in m of the recipients the server took
	for j, i := range idx {
		if e := env.rcpt[j]; e != nil {
			res[i] = reply(host, e, status.BadConnection)
			continue
		}
		accepted = append(accepted, i)
	}
	if err != nil {
		cn.c.close()
		return fillRetry(res, host, err)
	}
	if len(accepted) == 0 {
		a.finish(cn, cn.c.reset() == nil)
		return res
	}
	if env.data != nil {
		for _, i := range accepted {
			res[i] = reply(host, env.data, status.BadConnection)
		}
		a.finish(cn, cn.c.reset() == nil)
		return res
	}
	if err := cn.c.writeContent(body, func(io.Writer) error { return nil }); err != nil {
		cn.c.close()
		return fillRetry(res, host, err)
	}
	// RFC 2033 section 4.2: one reply for each recipient RCPT accepted,
	// in the order of the RCPTs.
	cn.c.raw.SetReadDeadline(time.Now().Add(cn.c.finalTimeout()))
	for _, i := range accepted {
		r, err := readReply(cn.c.r)
		if err != nil {
			cn.c.close()
			return fillRetry(res, host, fmt.Errorf("reading the reply for %s after the end of data: %w", m.Recipients[i].Address, err))
		}
		if r.Code/100 == 2 {
			res[i] = Result{Class: Delivered, Status: status.OK, Text: "delivered over LMTP to " + host,
				RemoteHost: host, RemoteText: fmt.Sprintf("%d %s", r.Code, r.Text())}
			continue
		}
		res[i] = reply(host, r, status.BadConnection)
	}
	a.finish(cn, true)
	return res
}

// fillResult gives every recipient without a result yet r.
func fillResult(res []Result, r Result) []Result {
	for i := range res {
		if res[i].Class == "" {
			res[i] = r
		}
	}
	return res
}

// open returns a session ready for MAIL: a kept one, or a new one.
func (a *LMTP) open(ctx context.Context) (*conn, *Result) {
	if cn := a.Pool.get(a.poolKey()); cn != nil {
		return cn, nil
	}
	return a.dial(ctx)
}

func (a *LMTP) poolKey() string {
	return "lmtp|" + a.Address + "|" + a.helo()
}

func (a *LMTP) helo() string {
	if a.Helo == "" {
		return "localhost"
	}
	return a.Helo
}

// dial connects to Address, reads the greeting and sends LHLO. A failure
// is a retry of every recipient (4.4.1): the mail waits in the queue until
// the LMTP server is back.
func (a *LMTP) dial(ctx context.Context) (*conn, *Result) {
	c, err := a.connect(ctx)
	if err != nil {
		r := &Result{Class: Retry, Status: status.NoAnswer, Text: "LMTP server " + a.Address + ": " + err.Error(), RemoteHost: a.Address}
		var se *smtpReply
		if errors.As(err, &se) {
			r.RemoteText = se.Error()
		}
		return nil, r
	}
	return &conn{c: c, key: a.poolKey(), born: time.Now()}, nil
}

func (a *LMTP) connect(ctx context.Context) (*client, error) {
	timeout := orDuration(a.Timeout, 5*time.Minute)
	network, addr := "tcp", a.Address
	if p, ok := strings.CutPrefix(a.Address, "unix:"); ok {
		network, addr = "unix", p
	}
	d := net.Dialer{Timeout: timeout}
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c := newClient(raw, timeout)
	c.lmtp, c.final, c.log = true, a.FinalTimeout, a.Log
	if err := c.greet(); err != nil {
		c.close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if err := c.hello(a.helo()); err != nil {
		c.close()
		return nil, fmt.Errorf("LHLO: %w", err)
	}
	return c, nil
}

// finish gives cn back to the pool when it is at a transaction boundary
// and working (ok), and ends it otherwise.
func (a *LMTP) finish(cn *conn, ok bool) {
	if !ok {
		cn.c.close()
		return
	}
	a.Pool.put(cn)
}
