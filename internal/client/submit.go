package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// ErrAuth is returned when the submission connector refuses the user's
// password: the message stays in the outbox.
var ErrAuth = errors.New("the hub refused the user name or password")

// submit sends the pending recipients of it over SMTP submission
// (RFC 6409) with AUTH PLAIN (RFC 4616), STARTTLS when offered, and
// records each recipient's outcome in it: accepted (250) -> Sent; refused
// with 5xx at RCPT or DATA -> Refused with the hub's reply; 4xx or a
// broken connection -> stays Pending for the next sync. The error is
// ErrOffline (wrapped) when the hub cannot be reached, ErrAuth when the
// password is refused, and describes any other failure of the whole
// transaction; it is nil when every pending recipient got an answer.
func (p *Profile) submit(it *Item) error {
	var idx []int
	for i, r := range it.Recipients {
		if r.State == Pending {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	it.Attempts++
	err := p.transaction(it, idx)
	if err != nil {
		it.LastError = err.Error()
	} else {
		it.LastError = ""
	}
	return err
}

func (p *Profile) transaction(it *Item, idx []int) error {
	addr := p.Settings.SMTP
	c, err := p.dialSMTP(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", p.Settings.User, p.password)); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code == 535 {
			return fmt.Errorf("%w: SMTP %s: %v", ErrAuth, addr, err)
		}
		return smtpErr("AUTH", addr, err)
	}
	if err := c.Mail(p.Settings.User, nil); err != nil {
		return p.refuseAll(it, idx, "MAIL", addr, err)
	}
	domain := p.domain()
	var accepted []int
	for _, i := range idx {
		r := &it.Recipients[i]
		err := c.Rcpt(envelope(*r, domain), nil)
		if err == nil {
			accepted = append(accepted, i)
			continue
		}
		var se *smtp.SMTPError
		if !errors.As(err, &se) {
			return smtpErr("RCPT", addr, err)
		}
		if se.Code >= 500 {
			refuse(r, addr, se)
		} else {
			r.Reason = "the hub deferred it: " + replyText(se)
		}
	}
	if len(accepted) == 0 {
		c.Quit()
		return nil
	}
	w, err := c.Data()
	if err != nil {
		return p.refuseAll(it, accepted, "DATA", addr, err)
	}
	if _, err := w.Write([]byte(it.Message)); err != nil {
		return smtpErr("DATA", addr, err)
	}
	if err := w.Close(); err != nil {
		return p.refuseAll(it, accepted, "DATA", addr, err)
	}
	for _, i := range accepted {
		it.Recipients[i].State, it.Recipients[i].Reason = Sent, ""
	}
	c.Quit()
	return nil
}

// dialSMTP connects to the submission connector and says EHLO, over
// STARTTLS when the connector offers it (go-smtp starts TLS only on a new
// connection, so the first one only learns whether it is offered).
func (p *Profile) dialSMTP(addr string) (*smtp.Client, error) {
	dial := func() (net.Conn, error) {
		conn, err := net.DialTimeout("tcp", addr, p.timeout())
		if err != nil {
			return nil, fmt.Errorf("%w: SMTP %s: %v", ErrOffline, addr, err)
		}
		return conn, nil
	}
	conn, err := dial()
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = p.timeout()
	c.SubmissionTimeout = 3 * p.timeout()
	if err := c.Hello("localhost"); err != nil {
		c.Close()
		return nil, smtpErr("EHLO", addr, err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return c, nil
	}
	c.Quit()
	c.Close()
	if conn, err = dial(); err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	c, err = smtp.NewClientStartTLS(conn, &tls.Config{ServerName: host})
	if err != nil {
		conn.Close()
		return nil, smtpErr("STARTTLS", addr, err)
	}
	c.CommandTimeout = p.timeout()
	c.SubmissionTimeout = 3 * p.timeout()
	return c, nil
}

// refuseAll handles a failure of the whole transaction: a 5xx reply
// refuses every recipient in idx; anything else leaves them pending.
func (p *Profile) refuseAll(it *Item, idx []int, step, addr string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		for _, i := range idx {
			refuse(&it.Recipients[i], addr, se)
		}
		return nil
	}
	return smtpErr(step, addr, err)
}

func refuse(r *Recipient, host string, se *smtp.SMTPError) {
	r.State, r.Host = Refused, host
	r.Status = fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	if se.EnhancedCode == smtp.NoEnhancedCode || se.EnhancedCode[0] == 0 {
		r.Status = fmt.Sprintf("%d.0.0", se.Code/100)
	}
	r.Reason = replyText(se)
}

// replyText is an SMTP reply as the server wrote it: "550 5.1.1 text".
func replyText(se *smtp.SMTPError) string {
	s := fmt.Sprintf("%d", se.Code)
	if se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode[0] != 0 {
		s += fmt.Sprintf(" %d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	return s + " " + strings.TrimSpace(se.Message)
}

// smtpErr describes a failed step; a broken connection counts as offline.
func smtpErr(step, addr string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Errorf("SMTP %s %s: %s", addr, step, replyText(se))
	}
	return fmt.Errorf("%w: SMTP %s %s: %v", ErrOffline, addr, step, err)
}
