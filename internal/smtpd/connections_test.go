package smtpd

import (
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/config"
)

// TestConnectionLimits: the connection over
// max_connections_per_ip gets 421 4.7.0, the one over max_connections
// 421 4.3.2, both are closed, and closing a connection frees its place.
func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	ev := &counts{}
	h := start(t, "Default", func(rc *config.ReceiveConnector) {
		rc.MaxConnectionsPerIP = 3
		rc.MaxConnections = 5
	}, ev.option)
	busy := func(c *client) *client {
		c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
		return c
	}
	var ones []*client
	for i := 0; i < 3; i++ {
		ones = append(ones, busy(h.helloFrom("127.0.0.1")))
	}
	c := h.dialFrom("127.0.0.1")
	c.expect("421 4.7.0 Too many connections from your address")
	c.closed()
	for i := 0; i < 2; i++ {
		busy(h.helloFrom("127.0.0.2"))
	}
	c = h.dialFrom("127.0.0.2")
	c.expect("421 4.3.2 Too many connections")
	c.closed()

	c = h.dialFrom("127.0.0.3")
	c.expect("421 4.3.2 Too many connections")
	c.closed()

	ones[0].cmd("QUIT", "221 ")
	ones[0].closed()
	h.helloFrom("127.0.0.1") // its place is free again
	c = h.dialFrom("127.0.0.1")
	c.expect("421 4.7.0 ") // over its own limit: no one else's session is closed for it

	s := ev.snapshot()
	if s.sessions != 6 || ev.rejected("421 4.7.0") != 2 || ev.rejected("421 4.3.2") != 2 {
		t.Errorf("events: %d sessions, rejects %v", s.sessions, s.rejects)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "max_connections_per_ip reached") || !strings.Contains(logs, "max_connections reached") {
		t.Errorf("log:\n%s", logs)
	}
}
