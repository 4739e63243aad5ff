package smtpd

import (
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
)

// A full connector makes room for a new client by closing, with
// 421 4.3.2, the session idle longest outside a mail transaction and
// without AUTH; sessions in a transaction and authenticated ones keep
// their place.
func TestStressEvictsIdle(t *testing.T) {
	t.Parallel()
	h := start(t, "Clients", func(rc *config.ReceiveConnector) {
		rc.MaxConnections = 5
		rc.MaxConnectionsPerIP = 10
	})
	oldest := h.helloFrom("127.0.0.1")
	authed := h.helloFrom("127.0.0.1")
	authed.cmd(authPlain("alice@contoso.test", "secret"), "235 ")
	inTx := h.helloFrom("127.0.0.1")
	inTx.cmd(authPlain("alice@contoso.test", "secret"), "235 ")
	inTx.cmd("MAIL FROM:<alice@contoso.test>", "250 ")
	silent := h.dialFrom("127.0.0.1") // never says a word
	silent.expect("220 ")
	time.Sleep(10 * time.Millisecond)
	newer := h.helloFrom("127.0.0.1")

	first := h.dialFrom("127.0.0.2")
	first.expect("220 ")
	oldest.expect("421 4.3.2 Too many connections: closing idle session")
	oldest.closed()
	second := h.dialFrom("127.0.0.3")
	second.expect("220 ")
	silent.expect("421 4.3.2 ")
	silent.closed()
	third := h.dialFrom("127.0.0.4")
	third.expect("220 ")
	newer.expect("421 4.3.2 ")
	newer.closed()

	authed.cmd("NOOP", "250 ")
	inTx.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	inTx.cmd("DATA", "354 ")
	inTx.send("Subject: kept\r\n\r\nx\r\n.\r\n")
	inTx.expect("250 ")
	first.cmd("EHLO a.test", "250 ")
	if logs := h.logs.String(); !strings.Contains(logs, "closed to make room") || !strings.Contains(logs, "under stress") {
		t.Errorf("not logged:\n%s", logs)
	}
}

// Under stress (80% of max_connections) idle and slow sessions get the
// short stress timeout instead of command_timeout and data_timeout, those
// already waiting included.
func TestStressTimeouts(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) {
		rc.MaxConnections = 5
		rc.MaxConnectionsPerIP = 10
		rc.CommandTimeout = time.Minute
		rc.DataTimeout = time.Minute
		rc.MinDataRate = 100
	}, func(l *Listener) { l.stressTimeout = time.Second })
	idle := h.hello() // waits for a command with a one-minute timeout
	slow := h.hello()
	slow.transaction("bob@fabrikam.test", "alice@contoso.test")
	stop := trickle(slow.conn, []byte("Subject: slow\r\n\r\n"+strings.Repeat("x", 1000)), 1, 100*time.Millisecond)
	defer close(stop)
	time.Sleep(200 * time.Millisecond)
	if got := len(h.q.all()); got != 0 {
		t.Fatal(got)
	}
	// Two more connections: 4 of 5 is stress.
	began := time.Now()
	a, b := h.hello(), h.hello()
	for _, c := range []*client{idle, slow, a, b} {
		c.expect("421 4.4.2 ")
		c.closed()
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("cut off after %v", d)
	}
	// A session that starts under stress has the short timeout too, but a
	// message that keeps up min_data_rate is not cut off however long it
	// takes.
	h.hello()
	fast := h.hello()
	fast.transaction("bob@fabrikam.test", "alice@contoso.test")
	h.hello()
	late := h.hello() // 4 of 5 again
	fast.send("Subject: fast\r\n\r\n")
	line := strings.Repeat("y", 998) + "\r\n"
	for range 250 { // 2.5 s at 100 kB/s, over twice the stress timeout
		fast.send(line)
		time.Sleep(10 * time.Millisecond)
	}
	fast.send(".\r\n")
	fast.expect("250 ")
	late.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	late.expect("421 4.4.2 ")
	if got := len(h.q.all()); got != 1 {
		t.Errorf("%d messages queued, want the fast one only", got)
	}
}
