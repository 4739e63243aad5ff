package delivery

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/hubauth"
)

// open returns a session with host that is ready for MAIL: a kept one
// from the pool, or a new one. A failure is the result of every recipient.
func (a *SMTP) open(ctx context.Context, host string) (*conn, *Result) {
	if cn := a.Pool.get(a.poolKey(host)); cn != nil {
		return cn, nil
	}
	return a.dial(ctx, host)
}

// dial opens a new session with host: connection, greeting, EHLO,
// STARTTLS as the TLS mode says, and the login (hub proof or AUTH).
func (a *SMTP) dial(ctx context.Context, host string) (*conn, *Result) {
	c, raw, err := a.connect(ctx, host)
	if err != nil {
		return nil, &Result{Class: Retry, Status: "4.4.1", Text: err.Error(), RemoteHost: host}
	}
	if r := a.login(c, host, raw); r != nil {
		c.Close()
		return nil, r
	}
	return &conn{c: c, raw: raw, key: a.poolKey(host), born: time.Now()}, nil
}

// poolKey names what shaped a session with host, so that a kept session
// is reused only by an agent that would have opened the same one.
func (a *SMTP) poolKey(host string) string {
	k := fmt.Sprintf("%s|%s|tls=%s,%p", strings.ToLower(host), a.helo(), a.TLS, a.TLSConfig)
	switch {
	case a.Hub != nil:
		sum := sha256.Sum256(a.Hub.Secret)
		k += fmt.Sprintf("|hub=%s,%x", a.Hub.Server, sum[:8])
	case a.AuthUsername != "":
		k += "|user=" + a.AuthUsername
	}
	return k
}

// connect opens a connection to host and greets it, with STARTTLS when it
// is offered (opportunistic) or required. It returns the client and the
// network connection beneath it.
func (a *SMTP) connect(ctx context.Context, host string) (*smtp.Client, net.Conn, error) {
	timeout := a.timeout()
	d := net.Dialer{Timeout: timeout, Resolver: a.Resolver}
	dial := func() (net.Conn, error) {
		conn, err := d.DialContext(ctx, "tcp", host)
		if err == nil {
			conn.SetDeadline(time.Now().Add(timeout))
		}
		return conn, err
	}
	serverName, _, _ := net.SplitHostPort(host)
	serverName = strings.TrimSuffix(serverName, ".")
	cfg := a.TLSConfig
	if cfg == nil {
		// Opportunistic TLS between MTAs does not verify (RFC 7435);
		// "required" does.
		cfg = &tls.Config{ServerName: serverName, InsecureSkipVerify: a.TLS != "required"}
	}
	conn, err := dial()
	if err != nil {
		return nil, nil, err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = timeout
	if err := c.Hello(a.helo()); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("EHLO: %w", err)
	}
	offered, _ := c.Extension("STARTTLS")
	switch {
	case a.TLS == "none" || (!offered && a.TLS != "required"):
		return c, conn, nil
	case !offered:
		c.Close()
		return nil, nil, fmt.Errorf("%s does not offer STARTTLS, which the connector requires", host)
	}
	// STARTTLS is offered: start again with it (go-smtp negotiates it
	// while greeting).
	c.Close()
	if conn, err = dial(); err != nil {
		return nil, nil, err
	}
	c, err = smtp.NewClientStartTLS(conn, cfg)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("STARTTLS: %w", err)
	}
	c.CommandTimeout = timeout
	if err := c.Hello(a.helo()); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("EHLO after STARTTLS: %w", err)
	}
	return c, conn, nil
}

// login proves who we are, when the agent says so: the hub secret to a
// peer hub, or a user name and password to a smart host.
func (a *SMTP) login(c *smtp.Client, host string, raw net.Conn) *Result {
	switch {
	case a.Hub != nil:
		if err := c.Auth(&hubauth.Client{Secret: a.Hub.Secret, Server: a.Hub.Server}); err != nil {
			r := reply(host, err, "4.7.0")
			r.Class = Retry // a peer that refuses our proof may have another secret for now
			return &r
		}
	case a.AuthUsername != "":
		return a.authPlain(c, host, raw)
	}
	return nil
}
