package delivery

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/status"
)

// open returns a session with host that is ready for MAIL: a kept one
// from the pool, or a new one. A failure is the result of every recipient.
func (a *SMTP) open(ctx context.Context, host string) (*conn, *Result) {
	if cn := a.Pool.get(a.poolKey(host)); cn != nil {
		// The time limits are this agent's, not those of the agent that
		// opened the session (a shadow copy waits seconds, a relay
		// minutes: package shadow).
		cn.c.timeout, cn.c.final = a.timeout(), a.FinalTimeout
		return cn, nil
	}
	return a.dial(ctx, host)
}

// dial opens a new session with host: connection, greeting, EHLO,
// STARTTLS as the TLS policy says, and the login (hub proof or AUTH).
func (a *SMTP) dial(ctx context.Context, host string) (*conn, *Result) {
	pol, perr := a.policy(ctx, host)
	if perr != nil {
		return nil, perr.result(host)
	}
	c, err := a.connect(ctx, host, pol)
	var pe *policyError
	switch {
	case errors.Is(err, errLoop):
		return nil, &Result{Class: Retry, Status: loopStatus, RemoteHost: host, TLS: pol.name,
			Text: fmt.Sprintf("mail for %s loops back to this server: %v; check the send connector's smart hosts, the domain's MX records or the peer's relay address", host, err)}
	case errors.As(err, &pe):
		return nil, pe.result(host)
	case err != nil:
		r := &Result{Class: Retry, Status: status.NoAnswer, Text: err.Error(), RemoteHost: host, TLS: pol.name}
		if errors.Is(err, errHubTLS) {
			r.Status = status.SecurityTransient // no TLS with the peer hub: the mail waits
		}
		var se *smtpReply
		if errors.As(err, &se) {
			r.RemoteText = se.Error()
		}
		return nil, r
	}
	c.timeout = a.timeout() // the session is set up (connectTimeout): commands get the full time
	if r := a.login(c, host); r != nil {
		c.close()
		r.TLS = pol.name
		return nil, r
	}
	return &conn{c: c, key: a.poolKey(host), born: time.Now(), tls: pol.name}, nil
}

// poolKey names what shaped a session with host, so that a kept session
// is reused only by an agent that would have opened the same one.
func (a *SMTP) poolKey(host string) string {
	k := fmt.Sprintf("%s|%s|tls=%s,%p", strings.ToLower(host), a.helo(), a.TLS, a.TLSConfig)
	if a.sts != nil {
		// A session opened under an enforced policy was verified; one
		// under testing perhaps not.
		k += ",sts=" + a.sts.Mode
	}
	switch {
	case a.Hub != nil:
		sum := sha256.Sum256(a.Hub.Secret)
		k += fmt.Sprintf("|hub=%s,%x", a.Hub.Server, sum[:8])
	case a.AuthUsername != "":
		k += "|user=" + a.AuthUsername
	}
	return k
}

// connect opens a connection to host and greets it, with STARTTLS on the
// same connection as pol says: when offered, or always when required.
func (a *SMTP) connect(ctx context.Context, host string, pol tlsPolicy) (*client, error) {
	timeout := a.connectTimeout()
	d := net.Dialer{Timeout: timeout, Resolver: a.Resolver}
	raw, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	c := newClient(raw, timeout)
	c.final, c.log = a.FinalTimeout, a.Log
	fail := func(what string, err error) (*client, error) {
		c.close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := c.greet(); err != nil {
		return fail("greeting", err)
	}
	if err := c.hello(a.helo()); err != nil {
		return fail("EHLO", err)
	}
	if a.helo() != "localhost" && strings.EqualFold(strings.TrimSuffix(c.peer, "."), a.helo()) {
		c.close()
		return nil, fmt.Errorf("%w: it calls itself %s, this server's own name", errLoop, c.peer)
	}
	if a.Hub != nil {
		// Hub to hub: TLS always, whatever a.TLS says (hubtls.go).
		if err := a.hubTLS(c, host); err != nil {
			c.close()
			return nil, err
		}
		return c, nil
	}
	offered := c.has("STARTTLS")
	switch {
	case pol.none || (!offered && !pol.require):
		return c, nil
	case !offered && pol.strict:
		c.close()
		return nil, &policyError{policy: pol.name, text: fmt.Sprintf("%s does not offer STARTTLS, which %s requires", host, pol.why())}
	case !offered:
		c.close()
		return nil, fmt.Errorf("%s does not offer STARTTLS, which the connector requires", host)
	}
	cfg := pol.config
	if cfg == nil {
		cfg = a.tlsConfig(host)
	}
	if err := c.startTLS(cfg); err != nil {
		if pol.strict {
			c.close()
			return nil, &policyError{policy: pol.name, text: fmt.Sprintf("STARTTLS with %s failed %s: %v", host, pol.why(), err)}
		}
		return fail("STARTTLS", err)
	}
	if err := c.hello(a.helo()); err != nil {
		return fail("EHLO after STARTTLS", err)
	}
	return c, nil
}

// errLoop is a next hop that is this server itself: RFC 5321 section 5.1
// has a client discard the MX hosts from the local host's preference on,
// and a smart host or peer that is this server would only send the mail
// round until its hop count ran out. The mail waits (4.4.6, routing loop)
// rather than bounce: the fix is the administrator's, and nothing is lost
// meanwhile.
var errLoop = errors.New("the server greets with this server's own name")

const loopStatus = status.LoopTransient

// tlsConfig is the configuration of STARTTLS with host: TLSConfig when
// set, else one that verifies the certificate only when TLS is required.
func (a *SMTP) tlsConfig(host string) *tls.Config {
	if a.TLSConfig != nil {
		return a.TLSConfig
	}
	serverName, _, _ := net.SplitHostPort(host)
	// Opportunistic TLS between MTAs does not verify (RFC 7435);
	// "required" does.
	return &tls.Config{ServerName: strings.TrimSuffix(serverName, "."), InsecureSkipVerify: a.TLS != "required"}
}

// login proves who we are, when the agent says so: the hub secret to a
// peer hub, or a user name and password to a smart host.
func (a *SMTP) login(c *client, host string) *Result {
	switch {
	case a.Hub != nil:
		if err := a.hubLogin(c); err != nil {
			r := reply(host, err, status.SecurityTransient)
			r.Class = Retry // a peer that refuses our proof may have another secret for now
			return &r
		}
	case a.AuthUsername != "":
		return a.authSmartHost(c, host)
	}
	return nil
}
