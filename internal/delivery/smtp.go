package delivery

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/dane"
	"github.com/waypost/waypost/internal/dkim"
	"github.com/waypost/waypost/internal/mtasts"
	"github.com/waypost/waypost/internal/status"
)

// SMTP delivers over SMTP to the smart hosts of a send connector, tried in
// order, or, with no smart hosts, to the mail exchangers of each recipient
// domain (RFC 5321 section 5.1; see mx.go). The next host is tried after
// a connection failure, a 4xx greeting or a 4xx to MAIL or DATA. Each RCPT
// reply becomes that recipient's result (2xx sent, 4xx retry, 5xx
// failed), and the DATA reply applies to every accepted recipient.
// Recipients of other address types are written as SMTP addresses: IMCEA
// at DefaultDomain, or RFC 3192 "FAX=+number@host".
//
// A message to more than MaxRecipients recipients (default 100, the most
// that RFC 5321 section 4.5.3.1.8 has every server take) goes in several
// transactions, one after the other, each tried on the hosts in order.
//
// One connection carries many messages: with Pool set, a connection at a
// transaction boundary is kept a short time and the next message to the
// same host takes it (RSET first when the last transaction was abandoned).
// A kept connection that turns out dead before MAIL is accepted is
// replaced by a fresh one, silently: that is not a failed attempt.
//
// AUTH to a smart host (AuthUsername, AuthPasswordFile) is SASL PLAIN
// (RFC 4616) when offered, else LOGIN (draft-murchison-sasl-login; all
// that Microsoft 365's submission host offers besides XOAUTH2), sent only
// over TLS or to a loopback address; otherwise the
// recipients wait (retry 4.7.0) with a text that says to enable TLS. A
// refused login (535) is a retry 4.7.0 too, quoting the reply, not a
// failure: the password is an administrator's to fix, and the mail should
// wait for it rather than bounce.
//
// DKIM (RFC 6376): with DKIM set, a message whose From domain has a key
// is signed once per attempt, before it is split by domain or batch, and
// every transaction sends the same signature fields before the content
// (dkim.go). The hub relay never signs.
//
// DSN (RFC 3461): when the next hop offers DSN, RET and ENVID go with MAIL
// and NOTIFY and ORCPT (rfc822 and utf-8 types) with RCPT; a recipient
// whose NOTIFY went on is marked NotifyPassed, so that this hub sends no
// "relayed" success notification: the next hop reports (section 5.2.1;
// "relayed" is for a next hop without DSN, section 5.2.2). Every
// recipient taken by another hub is marked so: that hub reports.
//
// With Hub set it is the hub-to-hub relay agent: STARTTLS always (a peer
// that offers none is a retry, 4.7.0: nothing goes in clear), the peer's
// proof of the hub secret for the TLS channel checked before anything is
// sent, then the hubauth response that proves it back (hubtls.go), ORCPTs
// of other types in a header line, and the arrival time as the first
// header line. A refused proof is
// a retry, not a failure: the peer may not have the new secret yet.
//
// The client is our own (smtpclient.go): with PIPELINING (RFC 2920)
// offered, MAIL, every RCPT and DATA go in one write and the replies are
// read in order, so a message costs two round trips (the envelope, and the
// content with its final dot) whatever its number of recipients; without
// it, one command a round trip. STARTTLS (RFC 3207) runs on the same TCP
// connection as the greeting.
type SMTP struct {
	Hosts         []string // host:port, tried in order; none: MX lookup
	Helo          string   // our name in EHLO
	TLS           string   // "opportunistic" (default), "required", "none", "dane" or "mta-sts" (tlspolicy.go); with Hub, TLS always (hubtls.go)
	Encapsulation string   // "imcea" (default) or "rfc3192"
	DefaultDomain string   // IMCEA domain
	Timeout       time.Duration
	// TLSConfig is used for STARTTLS when set (tests give their CA here).
	TLSConfig *tls.Config
	// Hub, when set, makes this agent the hub-to-hub relay: it proves the
	// hub secret (package hubauth), keeps the DSN parameters of the
	// envelope and writes the arrival time as the first header line.
	Hub *HubAuth
	// AuthUsername and AuthPasswordFile log in to a smart host with AUTH
	// PLAIN or LOGIN; the file is read at each login, and its trailing newline
	// removed, so that it can be changed without a restart.
	AuthUsername     string
	AuthPasswordFile string
	// Pool keeps connections for the next message; nil: one connection
	// per message.
	Pool *Pool
	// Resolver looks up MX records and host addresses; nil: the system's.
	Resolver *net.Resolver
	// Port is the port of mail exchangers found by MX lookup (default 25).
	Port string
	// MXParallel is how many recipient domains of one message are
	// delivered at once without smart hosts, each by one session at a time
	// (default DefaultMXParallel).
	MXParallel int
	// MaxRecipients is the most recipients of one transaction; a message
	// to more goes in several, one after the other on the same
	// connection (default DefaultMaxRecipients).
	MaxRecipients int
	// FinalTimeout is the wait for the reply to the final "." of the
	// content; default 12 minutes (RFC 5321 section 4.5.3.2.6 says 10).
	FinalTimeout time.Duration
	// Log receives the stack of a recovered panic; nil: slog.Default().
	Log *slog.Logger
	// DKIM signs messages whose From domain has a key (dkim.go); nil: no
	// signing. The hub relay never signs, whatever this holds.
	DKIM *dkim.Signer
	// DANE looks up the TLSA records of each host with TLS "dane" (RFC
	// 7672); nil: none is found, and delivery is opportunistic.
	DANE *dane.Resolver
	// MTASTS finds the MTA-STS policy of each recipient domain with TLS
	// "mta-sts" and no smart hosts (RFC 8461); nil: no policy.
	MTASTS *mtasts.Cache
	// ConnectTimeout bounds the setting up of a session: the connection,
	// the greeting, EHLO and STARTTLS (unreached.go). Default Timeout, and
	// for the hub relay HubConnectTimeout, so that a hub that does not
	// answer is soon skipped for an equivalent one.
	ConnectTimeout time.Duration

	// sts is the MTA-STS policy of the recipient domain this agent (a
	// copy made by deliverDomain) delivers to; nil: none.
	sts *mtasts.Policy
}

// HubAuth is how a hub proves the organization's hub secret to a peer's
// relay listener (the hubauth challenge and response, as server Server),
// and the arrival header name.
type HubAuth struct {
	Server        string
	Peer          string // the hub meant to answer; "" for any (hubauth.Client)
	Secret        []byte
	ArrivalHeader string
	ORCPTHeader   string // carries ORCPTs other than rfc822 and utf-8
	ShadowHeader  string // carries Message.ShadowOf (package shadow)
}

// Deliver implements Agent. A panic while delivering is recovered and
// logged with its stack, and every recipient is retried (4.3.0).
func (a *SMTP) Deliver(ctx context.Context, m *Message) (res []Result) {
	defer func() {
		if v := recover(); v != nil {
			err := panicError(a.Log, "delivering message "+m.ID+" over SMTP", v)
			res = every(len(m.Recipients), Result{Class: Retry, Status: status.SystemTransient, Text: err.Error()})
		}
	}()
	if a.DKIM != nil && a.Hub == nil {
		signed, fail := a.sign(m)
		if fail != nil {
			return every(len(m.Recipients), *fail)
		}
		m = signed
	}
	if len(a.Hosts) == 0 {
		return a.deliverMX(ctx, m)
	}
	return a.deliverTo(ctx, a.Hosts, m)
}

// deliverTo delivers m through the first of hosts that takes it, in
// transactions of at most MaxRecipients recipients, one after the other
// (so one connection at a time: with a Pool, the same connection).
func (a *SMTP) deliverTo(ctx context.Context, hosts []string, m *Message) []Result {
	limit := a.MaxRecipients
	if limit <= 0 {
		limit = DefaultMaxRecipients
	}
	if len(m.Recipients) <= limit {
		return a.deliverBatch(ctx, hosts, m)
	}
	res := make([]Result, 0, len(m.Recipients))
	for start := 0; start < len(m.Recipients); start += limit {
		sub := *m
		sub.Recipients = m.Recipients[start:min(start+limit, len(m.Recipients))]
		res = append(res, a.deliverBatch(ctx, hosts, &sub)...)
	}
	return res
}

// DefaultMaxRecipients is the number of recipients of one transaction
// when SMTP.MaxRecipients is not set: RFC 5321 section 4.5.3.1.8 has
// every server take at least 100, and many take no more (Postfix's client
// sends 50, smtp_destination_recipient_limit).
const DefaultMaxRecipients = 100

// deliverBatch delivers m, one transaction, through the first of hosts
// that takes it.
func (a *SMTP) deliverBatch(ctx context.Context, hosts []string, m *Message) []Result {
	var last []Result
	for _, host := range hosts {
		res, retryNext := a.try(ctx, host, m)
		if !retryNext {
			return res
		}
		last = res
	}
	return last
}

// try delivers through one host. retryNext is true when the host could not
// take the message at all (connection, greeting, TLS, AUTH, MAIL or DATA
// 4xx), so the next host should be tried, unless the host is this server.
func (a *SMTP) try(ctx context.Context, host string, m *Message) (res []Result, retryNext bool) {
	n := len(m.Recipients)
	cn, fail := a.open(ctx, host)
	defer func() {
		// Each result of a session says the TLS policy it was opened
		// under; a failure to open one carries its own.
		for i := range res {
			if cn != nil && res[i].RemoteHost != "" && res[i].TLS == "" {
				res[i].TLS = cn.tls
			}
		}
	}()
	if fail != nil {
		// A host that is this server ends the list: the hosts after it
		// (MX hosts of no better preference) are not tried.
		return every(n, *fail), fail.Status != loopStatus
	}
	defer func() {
		// A panic leaves the session in no known state: end it, and let
		// Deliver turn the panic into retries.
		if v := recover(); v != nil {
			cn.c.close()
			panic(v)
		}
	}()
	// The content is opened before MAIL: with PIPELINING, DATA goes with
	// MAIL and the RCPTs, and a DATA answered 354 must be given content.
	body, bodyErr := m.Open()
	if bodyErr == nil {
		defer body.Close()
	}
	res = make([]Result, n)
	var (
		idx  []int    // the recipients RCPT carries, by index in m
		tos  []string // their addresses as sent
		opts []rcptParams
	)
	utf8 := !ascii(m.From)
	for i, r := range m.Recipients {
		to, err := a.encode(r, host)
		if err != nil {
			res[i] = Result{Class: Failed, Status: status.BadMailboxSyntax, Text: err.Error()}
			continue
		}
		idx, tos, opts = append(idx, i), append(tos, to), append(opts, rcptOptions(r))
		utf8 = utf8 || !ascii(to)
	}
	begin := func() (envelope, error) {
		rcpts := make([]string, len(tos))
		for j, to := range tos {
			rcpts[j] = rcptLine(cn.c, to, opts[j])
		}
		return cn.c.begin(mailLine(cn.c, m, utf8), rcpts, bodyErr == nil && len(tos) > 0)
	}
	env, err := begin()
	if env.mail != nil && cn.reused {
		// A kept connection that the server closed meanwhile (its idle
		// time limit, a restart): start afresh; this is no attempt.
		cn.c.close()
		if cn, fail = a.dial(ctx, host); fail != nil {
			return every(n, *fail), true
		}
		env, err = begin()
	}
	if env.mail != nil {
		r := reply(host, env.mail, status.BadConnection)
		ok := err == nil && !closing(env.mail) // a refused MAIL opens no transaction
		if ok && env.reset {
			ok = cn.c.reset() == nil
		}
		a.finish(cn, ok)
		return every(n, r), r.Class == Retry
	}
	dsn := cn.c.has("DSN")
	passed := make([]bool, n) // NOTIFY went on with the RCPT
	var orcpts []string       // ORCPTs the RCPT command cannot carry, for the next hub
	for j, i := range idx {
		if e := env.rcpt[j]; e != nil {
			res[i] = reply(host, e, status.BadConnection)
			continue
		}
		passed[i] = dsn && len(opts[j].notify) > 0
		if r := m.Recipients[i]; a.Hub != nil && r.ORCPT != "" && opts[j].orcptType == "" {
			orcpts = append(orcpts, tos[j]+" "+base64.StdEncoding.EncodeToString([]byte(r.ORCPT)))
		}
	}
	if err != nil {
		// The connection broke while the RCPTs or DATA were answered.
		cn.c.close()
		return fillRetry(res, host, err), false
	}
	if env.accepted() == 0 {
		a.finish(cn, cn.c.reset() == nil)
		return res, false
	}
	var data string
	switch {
	case bodyErr != nil:
		err = &smtpReply{Code: status.ReplyLocalError, Status: status.Parts(status.SystemTransient), Lines: []string{status.SystemTransient + " reading the queued message: " + bodyErr.Error()}}
	case env.data != nil:
		err = env.data
	default:
		data, err = a.send(cn, m, body, orcpts)
	}
	for i := range res {
		if res[i].Class != "" {
			continue
		}
		if err != nil {
			res[i] = reply(host, err, status.BadConnection)
		} else {
			res[i] = Result{Class: Relayed, Status: status.OK, Text: "sent to " + host, RemoteHost: host, RemoteText: data, NotifyPassed: passed[i] || a.Hub != nil}
		}
	}
	switch {
	case err == nil:
		a.finish(cn, true)
	case isReply(err):
		// Refused at DATA or after the final dot: RSET leaves no
		// transaction open either way.
		a.finish(cn, cn.c.reset() == nil)
	default:
		cn.c.close()
	}
	return res, false
}

// finish gives cn back to the pool when it is at a transaction boundary
// and working (ok), and ends it otherwise.
func (a *SMTP) finish(cn *conn, ok bool) {
	if !ok {
		cn.c.close()
		return
	}
	a.Pool.put(cn)
}

// fillRetry gives every recipient without a result yet a retry for err.
func fillRetry(res []Result, host string, err error) []Result {
	for i := range res {
		if res[i].Class == "" {
			res[i] = Result{Class: Retry, Status: status.BadConnection, Text: err.Error(), RemoteHost: host}
		}
	}
	return res
}

// isReply reports whether err is a reply of the server (the connection
// still works), not a broken connection or a local error.
func isReply(err error) bool {
	var r *smtpReply
	return errors.As(err, &r)
}

// closing reports whether err is a 421 reply: the server is closing the
// connection (RFC 5321 section 3.8).
func closing(err error) bool {
	var r *smtpReply
	return errors.As(err, &r) && r.Code == status.ReplyNotAvailable
}

func (a *SMTP) helo() string {
	if a.Helo == "" {
		return "localhost"
	}
	return a.Helo
}

// send transmits the content after a 354 and returns the server's reply
// to it. A failure while the content is being written (the queue file
// unreadable, the connection broken) is no reply: the caller closes the
// connection, the final dot unsent, so that no partial message is ever
// taken for a whole one.
func (a *SMTP) send(cn *conn, m *Message, body io.Reader, orcpts []string) (string, error) {
	r, err := cn.c.content(body, func(w io.Writer) error { return a.writeHeaders(w, m, orcpts) })
	if err != nil {
		return "", err
	}
	if r.Code/100 != 2 {
		return "", r
	}
	return fmt.Sprintf("%d %s", r.Code, r.Text()), nil
}

// writeHeaders writes the lines a hub relay puts before the content: the
// arrival time, and the ORCPTs of types the RCPT command is not given
// (x400...), one line each: the recipient as sent and the ORCPT in base64.
func (a *SMTP) writeHeaders(w io.Writer, m *Message, orcpts []string) error {
	if a.Hub == nil || a.Hub.ArrivalHeader == "" || m.Arrival.IsZero() {
		return nil
	}
	if _, err := fmt.Fprintf(w, "%s: %s\r\n", a.Hub.ArrivalHeader, m.Arrival.UTC().Format(time.RFC3339Nano)); err != nil {
		return err
	}
	for _, o := range orcpts {
		if _, err := fmt.Fprintf(w, "%s: %s\r\n", a.Hub.ORCPTHeader, o); err != nil {
			return err
		}
	}
	if m.ShadowOf != "" && a.Hub.ShadowHeader != "" && !strings.ContainsAny(m.ShadowOf, "\r\n") {
		if _, err := fmt.Fprintf(w, "%s: %s\r\n", a.Hub.ShadowHeader, m.ShadowOf); err != nil {
			return err
		}
	}
	return nil
}

func (a *SMTP) timeout() time.Duration {
	return orDuration(a.Timeout, 5*time.Minute)
}

// encode writes a recipient as an SMTP address for the wire.
func (a *SMTP) encode(r Recipient, host string) (string, error) {
	if strings.ContainsAny(r.Address, "\r\n") {
		return "", errors.New("the address has a line break")
	}
	if strings.EqualFold(r.Type, "SMTP") {
		return r.Address, nil
	}
	if a.Encapsulation == "rfc3192" && strings.EqualFold(r.Type, "FAX") {
		h, _, _ := net.SplitHostPort(host)
		return address.FormatRFC3192(r.Address, "", h), nil
	}
	if a.DefaultDomain == "" {
		return "", errors.New("no default domain to encapsulate " + r.Type + " addresses in")
	}
	return address.EncodeIMCEA(r.Type, r.Address, a.DefaultDomain), nil
}

// reply turns an error into a Result: a reply of the server 5xx failed,
// anything else (a 4xx, a broken connection: status def) retry.
func reply(host string, err error, def string) Result {
	var se *smtpReply
	if errors.As(err, &se) {
		status := fmt.Sprintf("%d.%d.%d", se.Status[0], se.Status[1], se.Status[2])
		if se.Status[0] == 0 {
			status = fmt.Sprintf("%d.0.0", se.Code/100)
		}
		text := fmt.Sprintf("%d %s %s", se.Code, status, se.Message())
		if se.Code >= 500 {
			return Result{Class: Failed, Status: status, Text: "rejected by " + host, RemoteHost: host, RemoteText: text}
		}
		return Result{Class: Retry, Status: status, Text: "deferred by " + host, RemoteHost: host, RemoteText: text}
	}
	return Result{Class: Retry, Status: def, Text: err.Error(), RemoteHost: host}
}

// every returns n copies of r, for outcomes that hit every recipient.
func every(n int, r Result) []Result {
	out := make([]Result, n)
	for i := range out {
		out[i] = r
	}
	return out
}

// encodeIMCEA writes a non-SMTP recipient as an IMCEA address at domain.
func encodeIMCEA(r Recipient, domain string) string {
	return address.EncodeIMCEA(r.Type, r.Address, domain)
}
