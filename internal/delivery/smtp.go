package delivery

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/address"
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
// One connection carries many messages: with Pool set, a connection at a
// transaction boundary is kept a short time and the next message to the
// same host takes it (RSET first when the last transaction was abandoned).
// A kept connection that turns out dead before MAIL is accepted is
// replaced by a fresh one, silently: that is not a failed attempt.
//
// AUTH to a smart host (AuthUsername, AuthPasswordFile) is SASL PLAIN
// (RFC 4616), sent only over TLS or to a loopback address; otherwise the
// recipients wait (retry 4.7.0) with a text that says to enable TLS. A
// refused login (535) is a retry 4.7.0 too, quoting the reply, not a
// failure: the password is an administrator's to fix, and the mail should
// wait for it rather than bounce.
//
// DSN (RFC 3461): when the next hop offers DSN, RET and ENVID go with MAIL
// and NOTIFY and ORCPT (rfc822 and utf-8 types) with RCPT; a recipient
// whose NOTIFY went on is marked NotifyPassed, so that this hub sends no
// "relayed" success notification: the next hop reports (section 5.2.1;
// "relayed" is for a next hop without DSN, section 5.2.2).
//
// With Hub set it is the hub-to-hub relay agent: the hubauth challenge and
// response that proves the hub secret, ORCPTs of other types in a header
// line, and the arrival time as the first header line. A refused proof is
// a retry, not a failure: the peer may not have the new secret yet.
//
// PIPELINING (RFC 2920) is not used: go-smtp v0.25.1's client sends each
// command and waits for its reply, and offers no way to send MAIL and the
// RCPTs at once. Writing our own client for it was judged not worth it
// now: with connections reused, a message costs MAIL, RCPT per recipient,
// DATA and the final dot in round trips, which on a LAN is far below the
// cost of the queue's fsyncs; pipelining would save the RCPT and DATA
// round trips, which matters on long links with many recipients. It is
// the next step if the relay benchmark shows round trips dominate.
type SMTP struct {
	Hosts         []string // host:port, tried in order; none: MX lookup
	Helo          string   // our name in EHLO
	TLS           string   // "opportunistic" (default), "required" or "none"
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
	// PLAIN; the file is read at each login, and its trailing newline
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
}

// HubAuth is how a hub proves the organization's hub secret to a peer's
// relay listener (the hubauth challenge and response, as server Server),
// and the arrival header name.
type HubAuth struct {
	Server        string
	Secret        []byte
	ArrivalHeader string
	ORCPTHeader   string // carries ORCPTs other than rfc822 and utf-8
}

// Deliver implements Agent.
func (a *SMTP) Deliver(ctx context.Context, m *Message) []Result {
	if len(a.Hosts) == 0 {
		return a.deliverMX(ctx, m)
	}
	return a.deliverTo(ctx, a.Hosts, m)
}

// deliverTo delivers m through the first of hosts that takes it.
func (a *SMTP) deliverTo(ctx context.Context, hosts []string, m *Message) []Result {
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
// 4xx), so the next host should be tried.
func (a *SMTP) try(ctx context.Context, host string, m *Message) (res []Result, retryNext bool) {
	n := len(m.Recipients)
	cn, fail := a.open(ctx, host)
	if fail != nil {
		return every(n, *fail), true
	}
	mo := a.mailOptions(m)
	err := cn.c.Mail(m.From, mo)
	if err != nil && cn.reused {
		// A kept connection that the server closed meanwhile (its idle
		// time limit, a restart): start afresh; this is no attempt.
		cn.c.Close()
		if cn, fail = a.dial(ctx, host); fail != nil {
			return every(n, *fail), true
		}
		err = cn.c.Mail(m.From, mo)
	}
	if err != nil {
		r := reply(host, err, "4.4.2")
		a.finish(cn, isReply(err) && !closing(err)) // a refused MAIL opens no transaction
		return every(n, r), r.Class == Retry
	}
	dsn, _ := cn.c.Extension("DSN")
	res = make([]Result, n)
	passed := make([]bool, n) // NOTIFY went on with the RCPT
	accepted := 0
	var orcpts []string // ORCPTs the RCPT command cannot carry, for the next hub
	for i, r := range m.Recipients {
		to, err := a.encode(r, host)
		if err != nil {
			res[i] = Result{Class: Failed, Status: "5.1.3", Text: err.Error()}
			continue
		}
		ro := rcptOptions(r)
		if err := cn.c.Rcpt(to, ro); err != nil {
			res[i] = reply(host, err, "4.4.2")
			if !isReply(err) {
				cn.c.Close()
				return fillRetry(res, host, err), false
			}
			continue
		}
		res[i].Class = "" // accepted so far; DATA decides
		passed[i] = dsn && len(ro.Notify) > 0
		accepted++
		if a.Hub != nil && r.ORCPT != "" && ro.OriginalRecipient == "" {
			orcpts = append(orcpts, to+" "+base64.StdEncoding.EncodeToString([]byte(r.ORCPT)))
		}
	}
	if accepted == 0 {
		a.finish(cn, cn.c.Reset() == nil)
		return res, false
	}
	data, err := a.send(cn, m, orcpts)
	for i := range res {
		if res[i].Class != "" {
			continue
		}
		if err != nil {
			res[i] = reply(host, err, "4.4.2")
		} else {
			res[i] = Result{Class: Delivered, Status: "2.0.0", Text: "sent to " + host, RemoteHost: host, RemoteText: data, NotifyPassed: passed[i]}
		}
	}
	switch {
	case err == nil:
		a.finish(cn, true)
	case isReply(err):
		// Refused at DATA or after the final dot: RSET leaves no
		// transaction open either way.
		a.finish(cn, cn.c.Reset() == nil)
	default:
		cn.c.Close()
	}
	return res, false
}

// finish gives cn back to the pool when it is at a transaction boundary
// and working (ok), and ends it otherwise.
func (a *SMTP) finish(cn *conn, ok bool) {
	if !ok {
		cn.c.Close()
		return
	}
	a.Pool.put(cn)
}

// fillRetry gives every recipient without a result yet a retry for err.
func fillRetry(res []Result, host string, err error) []Result {
	for i := range res {
		if res[i].Class == "" {
			res[i] = Result{Class: Retry, Status: "4.4.2", Text: err.Error(), RemoteHost: host}
		}
	}
	return res
}

// isReply reports whether err is a reply of the server (the connection
// still works), not a broken connection or a local error.
func isReply(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se)
}

// closing reports whether err is a 421 reply: the server is closing the
// connection (RFC 5321 section 3.8).
func closing(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code == 421
}

func (a *SMTP) helo() string {
	if a.Helo == "" {
		return "localhost"
	}
	return a.Helo
}

// send transmits the content and returns the server's reply to DATA. A
// failure while the content is being written (the queue file unreadable,
// the connection broken) closes the connection without the final dot, so
// that no partial message is ever taken for a whole one.
func (a *SMTP) send(cn *conn, m *Message, orcpts []string) (string, error) {
	body, err := m.Open()
	if err != nil {
		return "", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "reading the queued message: " + err.Error()}
	}
	defer body.Close()
	dc, err := cn.c.Data()
	if err != nil {
		return "", err
	}
	w := &deadlineWriter{w: dc, conn: cn.raw, timeout: a.timeout()}
	if err := a.writeHeaders(w, m, orcpts); err != nil {
		cn.c.Close()
		return "", err
	}
	if _, err := io.Copy(w, body); err != nil {
		cn.c.Close()
		return "", err
	}
	resp, err := dc.CloseWithResponse()
	if err != nil {
		return "", err
	}
	return "250 " + resp.StatusText, nil
}

// writeHeaders writes the lines a hub relay puts before the content: the
// arrival time, and the ORCPTs of types go-smtp's RCPT cannot write
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
	return nil
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

func (a *SMTP) timeout() time.Duration {
	return orDuration(a.Timeout, 5*time.Minute)
}

// mailOptions are the MAIL parameters of m: SIZE, and RET and ENVID
// (go-smtp writes those only when the server offers DSN). An ENVID that is
// not printable ASCII is left out rather than failing the delivery.
func (a *SMTP) mailOptions(m *Message) *smtp.MailOptions {
	mo := &smtp.MailOptions{Size: m.Size}
	if m.Ret == "FULL" || m.Ret == "HDRS" {
		mo.Return = smtp.DSNReturn(m.Ret)
	}
	if printable(m.EnvID) {
		mo.EnvelopeID = m.EnvID
	}
	return mo
}

// rcptOptions are the DSN parameters of r (go-smtp writes them only when
// the server offers DSN). An ORCPT of a type go-smtp cannot write (only
// rfc822 and utf-8) is left out, and so are values go-smtp would refuse.
func rcptOptions(r Recipient) *smtp.RcptOptions {
	o := &smtp.RcptOptions{}
	if r.Notify != "" {
		o.Notify = notifyList(r.Notify)
	}
	if typ, addr, ok := strings.Cut(r.ORCPT, ";"); ok {
		switch t := smtp.DSNAddressType(strings.ToUpper(typ)); t {
		case smtp.DSNAddressTypeRFC822:
			if printable(addr) {
				o.OriginalRecipientType, o.OriginalRecipient = t, addr
			}
		case smtp.DSNAddressTypeUTF8:
			o.OriginalRecipientType, o.OriginalRecipient = t, addr
		}
	}
	return o
}

// notifyList is a NOTIFY value as go-smtp takes it, or nil when it is not
// valid (RFC 3461 section 4.1: NEVER alone, or each of SUCCESS, FAILURE
// and DELAY at most once).
func notifyList(s string) []smtp.DSNNotify {
	var out []smtp.DSNNotify
	seen := map[smtp.DSNNotify]bool{}
	for _, n := range strings.Split(s, ",") {
		v := smtp.DSNNotify(strings.ToUpper(strings.TrimSpace(n)))
		switch v {
		case smtp.DSNNotifyNever, smtp.DSNNotifySuccess, smtp.DSNNotifyFailure, smtp.DSNNotifyDelayed:
		default:
			return nil
		}
		if seen[v] {
			return nil
		}
		seen[v] = true
		out = append(out, v)
	}
	if seen[smtp.DSNNotifyNever] && len(out) > 1 {
		return nil
	}
	return out
}

// printable reports whether s is printable ASCII, as xtext needs.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
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

// reply turns an SMTP error into a Result: 5xx failed, anything else retry.
func reply(host string, err error, def string) Result {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		status := fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		if se.EnhancedCode[0] == 0 {
			status = fmt.Sprintf("%d.0.0", se.Code/100)
		}
		text := fmt.Sprintf("%d %s %s", se.Code, status, se.Message)
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
