package delivery

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/waypost/waypost/internal/hubauth"
)

// Hub to hub, the relay agent (SMTP with Hub set) always starts TLS and
// never sends a message in clear (docs/operations.md, "Hub to hub"). The
// peer's certificate is not checked against a CA (it may be self-signed):
// the hub proof pins the channel instead. The peer proves the hub secret
// for this TLS channel in its challenge, and the agent checks that proof
// before it answers, so before MAIL; its own answer is bound to the
// channel too (package hubauth, RFC 9266 tls-exporter).

// hubPolicy is the TLS policy of a session with a peer hub (Result.TLS):
// STARTTLS always, the channel pinned by the hub secret rather than a CA;
// connect starts it in hubTLS.
var hubPolicy = tlsPolicy{name: "hub", require: true}

// errHubTLS marks a failure to start TLS with a peer hub: it offers no
// STARTTLS (an older Waypost, or something else at its relay address), or
// the handshake failed. The mail waits (4.7.0).
var errHubTLS = errors.New("no TLS with the peer hub")

// hubTLS starts TLS with the peer hub at host on c, after EHLO, and greets
// again inside it.
func (a *SMTP) hubTLS(c *client, host string) error {
	if !c.has("STARTTLS") {
		return fmt.Errorf("%w: %s offers no STARTTLS, and hubs relay only over TLS (is the peer an older Waypost, or is something else listening at its relay address?)", errHubTLS, host)
	}
	name, _, _ := net.SplitHostPort(host)
	cfg := &tls.Config{
		ServerName: strings.TrimSuffix(name, "."),
		// Not checked against a CA: the hub proof authenticates the
		// channel (hubauth's package comment).
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS13,
	}
	if err := c.startTLS(cfg); err != nil {
		return fmt.Errorf("%w: STARTTLS with %s: %w", errHubTLS, host, err)
	}
	if err := c.hello(a.helo()); err != nil {
		return fmt.Errorf("EHLO after STARTTLS: %w", err)
	}
	return nil
}

// hubLogin proves the hub secret to the peer on c's TLS channel, once the
// peer has proved it.
func (a *SMTP) hubLogin(c *client) error {
	tc, ok := c.conn.(*tls.Conn)
	if !ok {
		return errors.New("no TLS: the hub proof is given only inside TLS")
	}
	st := tc.ConnectionState()
	binding, err := hubauth.Binding(&st)
	if err != nil {
		return err
	}
	return c.auth(&hubauth.Client{Secret: a.Hub.Secret, Server: a.Hub.Server, Peer: a.Hub.Peer, Binding: binding})
}
