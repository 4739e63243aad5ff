package smtpd

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
)

// TestSlowClients: a client trickling a command is closed at
// command_timeout; one trickling message data below min_data_rate gets
// 421 4.4.2 and is closed, nothing queued; and 50 slow clients do not
// hold up a normal one.
func TestSlowClients(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) {
		rc.CommandTimeout = 400 * time.Millisecond
		rc.DataTimeout = 500 * time.Millisecond
		rc.MinDataRate = 1000
		rc.MaxConnectionsPerIP = 0
	})

	// One byte every 100 ms in the command phase: cut off at 400 ms.
	c := h.hello()
	began := time.Now()
	stop := trickle(c.conn, []byte("NOOP and more and more and more\r\n"), 1, 100*time.Millisecond)
	c.expect("421 4.4.2 ")
	c.closed()
	close(stop)
	if d := time.Since(began); d < 350*time.Millisecond || d > 2*time.Second {
		t.Errorf("closed after %s, want about 400ms", d)
	}

	// 10 bytes every 40 ms in DATA is 250 bytes/s, under 1000: each read
	// is within data_timeout, but the budget runs out after about 0.7s.
	c = h.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	began = time.Now()
	stop = trickle(c.conn, []byte(strings.Repeat("Subject: slow\r\n", 200)), 10, 40*time.Millisecond)
	c.expect("421 4.4.2 Message data too slow")
	c.closed()
	close(stop)
	if d := time.Since(began); d < 500*time.Millisecond || d > 3*time.Second {
		t.Errorf("closed after %s", d)
	}

	// 50 slow clients, half in the command phase and half in DATA, while a
	// normal client sends a message.
	var stops []chan struct{}
	for i := 0; i < 50; i++ {
		s := h.hello()
		if i%2 == 1 {
			s.transaction("bob@fabrikam.test", "alice@contoso.test")
		}
		stops = append(stops, trickle(s.conn, []byte(strings.Repeat("x", 1000)), 1, 50*time.Millisecond))
	}
	began = time.Now()
	c = h.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: normal\r\n\r\nquick\r\n.\r\n")
	c.expect("250 ")
	c.cmd("QUIT", "221 ")
	if d := time.Since(began); d > time.Second {
		t.Errorf("a normal client took %s beside 50 slow ones", d)
	}
	for _, s := range stops {
		close(s)
	}
	if n := len(h.q.all()); n != 1 {
		t.Errorf("%d messages queued, want 1", n)
	}
}

// trickle writes data to c, n bytes every interval, until it is written,
// a write fails or stop is closed.
func trickle(c net.Conn, data []byte, n int, interval time.Duration) chan struct{} {
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for len(data) > 0 {
			k := min(n, len(data))
			c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(data[:k]); err != nil {
				return
			}
			data = data[k:]
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return stop
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) {
		rc.CommandTimeout = 300 * time.Millisecond
		rc.DataTimeout = 300 * time.Millisecond
	})
	c := h.hello()
	c.send("NO") // half a command, then nothing
	c.expect("421 4.4.2 ")
	c.closed()

	c = h.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: slow\r\n")
	c.expect("421 4.4.2 ")
	c.closed()
	if n := len(h.q.all()); n != 0 {
		t.Errorf("%d messages queued", n)
	}
}

// TestLongLines: a text line over max_line_length is refused,
// never cut; one at the limit goes through unchanged.
func TestLongLines(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil) // max_line_length 2048
	c := h.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: long\r\n\r\n" + strings.Repeat("y", 5000) + "\r\n.\r\n")
	c.expect("550 5.6.0 Line too long")
	c.cmd("RSET", "250 ")
	at := strings.Repeat("z", 2046) + "\r\n"
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: long\r\n\r\n" + at + ".\r\n")
	c.expect("250 ")
	msgs := h.q.all()
	if len(msgs) != 1 || !strings.HasSuffix(msgs[0].body, "\r\n\r\n"+at) {
		t.Errorf("queued %d", len(msgs))
	}
}
