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
	"github.com/waypost/waypost/internal/hubauth"
)

// SMTP delivers over SMTP to the smart hosts of a send connector, tried in
// order (RFC 5321 section 5: the next host after a connection failure or
// a 4xx greeting). One connection carries the message for all its
// recipients; each RCPT reply becomes that recipient's result (2xx sent,
// 4xx retry, 5xx failed), and the DATA reply applies to every accepted
// recipient. Recipients of other address types are written as SMTP
// addresses: IMCEA at DefaultDomain, or RFC 3192 "FAX=+number@host".
//
// With Hub set it is the hub-to-hub relay agent: the hubauth challenge and
// response that proves the hub secret, the DSN parameters of the envelope (RET, ENVID, NOTIFY, ORCPT of
// type rfc822 or utf-8; other ORCPT types are left out), and the arrival
// time as the first header line. A refused proof is a retry, not a
// failure: the peer may not have the new secret yet.
//
// Not yet: MX lookup when a connector has no smart hosts, AUTH to the smart
// host, and reusing a connection for several messages.
type SMTP struct {
	Hosts         []string // host:port, tried in order
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
		return every(len(m.Recipients), Result{Class: Retry, Status: "4.4.0", Text: "send connector has no smart hosts, and MX lookup is not built yet"})
	}
	var last []Result
	for _, host := range a.Hosts {
		res, retryNext := a.try(ctx, host, m)
		if !retryNext {
			return res
		}
		last = res
	}
	return last
}

// try delivers through one host. retryNext is true when the host could not
// take the message at all (connection, greeting, TLS, MAIL or DATA 4xx),
// so the next host should be tried.
func (a *SMTP) try(ctx context.Context, host string, m *Message) (res []Result, retryNext bool) {
	n := len(m.Recipients)
	timeout := a.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	c, err := a.connect(ctx, host, timeout)
	if err != nil {
		return every(n, Result{Class: Retry, Status: "4.4.1", Text: err.Error(), RemoteHost: host}), true
	}
	defer c.Close()
	mo := &smtp.MailOptions{Size: m.Size}
	if a.Hub != nil {
		if err := c.Auth(&hubauth.Client{Secret: a.Hub.Secret, Server: a.Hub.Server}); err != nil {
			r := reply(host, err, "4.7.0")
			r.Class = Retry // a peer that refuses our proof may have another secret for now
			return every(n, r), true
		}
		mo.EnvelopeID = m.EnvID
		mo.Return = smtp.DSNReturn(m.Ret)
	}
	if err := c.Mail(m.From, mo); err != nil {
		r := reply(host, err, "4.4.2")
		return every(n, r), r.Class == Retry
	}
	res = make([]Result, n)
	accepted := 0
	var orcpts []string // ORCPTs the RCPT command cannot carry, for the next hub
	for i, r := range m.Recipients {
		to, err := a.encode(r, host)
		if err != nil {
			res[i] = Result{Class: Failed, Status: "5.1.3", Text: err.Error()}
			continue
		}
		if err := c.Rcpt(to, a.rcptOptions(r)); err != nil {
			res[i] = reply(host, err, "4.4.2")
			continue
		}
		res[i].Class = "" // accepted so far; DATA decides
		accepted++
		if a.Hub != nil && r.ORCPT != "" && a.rcptOptions(r).OriginalRecipient == "" {
			orcpts = append(orcpts, to+" "+base64.StdEncoding.EncodeToString([]byte(r.ORCPT)))
		}
	}
	if accepted == 0 {
		c.Quit()
		return res, false
	}
	data, err := a.send(c, m, orcpts)
	for i := range res {
		if res[i].Class != "" {
			continue
		}
		if err != nil {
			res[i] = reply(host, err, "4.4.2")
		} else {
			res[i] = Result{Class: Delivered, Status: "2.0.0", Text: "sent to " + host, RemoteHost: host, RemoteText: data}
		}
	}
	c.Quit()
	return res, false
}

func (a *SMTP) connect(ctx context.Context, host string, timeout time.Duration) (*smtp.Client, error) {
	d := net.Dialer{Timeout: timeout}
	dial := func() (net.Conn, error) {
		conn, err := d.DialContext(ctx, "tcp", host)
		if err == nil {
			conn.SetDeadline(time.Now().Add(timeout))
		}
		return conn, err
	}
	serverName, _, _ := net.SplitHostPort(host)
	cfg := a.TLSConfig
	if cfg == nil {
		// Opportunistic TLS between MTAs does not verify (RFC 7435);
		// "required" does.
		cfg = &tls.Config{ServerName: serverName, InsecureSkipVerify: a.TLS != "required"}
	}
	conn, err := dial()
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	if err := c.Hello(a.helo()); err != nil {
		c.Close()
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	offered, _ := c.Extension("STARTTLS")
	switch {
	case a.TLS == "none" || (!offered && a.TLS != "required"):
		return c, nil
	case !offered:
		c.Close()
		return nil, fmt.Errorf("%s does not offer STARTTLS, which the connector requires", host)
	}
	// STARTTLS is offered: start again with it (go-smtp negotiates it
	// while greeting).
	c.Close()
	if conn, err = dial(); err != nil {
		return nil, err
	}
	c, err = smtp.NewClientStartTLS(conn, cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("STARTTLS: %w", err)
	}
	if err := c.Hello(a.helo()); err != nil {
		c.Close()
		return nil, fmt.Errorf("EHLO after STARTTLS: %w", err)
	}
	return c, nil
}

func (a *SMTP) helo() string {
	if a.Helo == "" {
		return "localhost"
	}
	return a.Helo
}

// send transmits the content and returns the server's reply to DATA.
func (a *SMTP) send(c *smtp.Client, m *Message, orcpts []string) (string, error) {
	body, err := m.Open()
	if err != nil {
		return "", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "reading the queued message: " + err.Error()}
	}
	defer body.Close()
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if a.Hub != nil && a.Hub.ArrivalHeader != "" && !m.Arrival.IsZero() {
		if _, err := fmt.Fprintf(w, "%s: %s\r\n", a.Hub.ArrivalHeader, m.Arrival.UTC().Format(time.RFC3339Nano)); err != nil {
			w.Close()
			return "", err
		}
		// ORCPTs of types go-smtp's RCPT cannot write (x400...) follow,
		// one line each: the recipient as sent and the ORCPT in base64.
		for _, o := range orcpts {
			if _, err := fmt.Fprintf(w, "%s: %s\r\n", a.Hub.ORCPTHeader, o); err != nil {
				w.Close()
				return "", err
			}
		}
	}
	if _, err := io.Copy(w, body); err != nil {
		w.Close()
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	return "250 " + resp.StatusText, nil
}

// rcptOptions are the DSN parameters of r for a hub relay, nil otherwise.
// An ORCPT of a type go-smtp cannot write (only rfc822 and utf-8) is left
// out.
func (a *SMTP) rcptOptions(r Recipient) *smtp.RcptOptions {
	if a.Hub == nil {
		return nil
	}
	o := &smtp.RcptOptions{}
	if r.Notify != "" {
		for _, n := range strings.Split(r.Notify, ",") {
			o.Notify = append(o.Notify, smtp.DSNNotify(strings.ToUpper(strings.TrimSpace(n))))
		}
	}
	if typ, addr, ok := strings.Cut(r.ORCPT, ";"); ok {
		switch t := smtp.DSNAddressType(strings.ToUpper(typ)); t {
		case smtp.DSNAddressTypeRFC822, smtp.DSNAddressTypeUTF8:
			o.OriginalRecipientType, o.OriginalRecipient = t, addr
		}
	}
	return o
}

// encode writes a recipient as an SMTP address for the wire.
func (a *SMTP) encode(r Recipient, host string) (string, error) {
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
