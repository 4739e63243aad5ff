package smtpd

import (
	"strings"
	"testing"
	"time"
)

// TestWrongProtocol: HTTP on the SMTP port is refused line by
// line and the connection is closed after the error limit.
func TestWrongProtocol(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", nil)
	c := h.dial()
	c.send("GET / HTTP/1.1\r\nHost: hub-hq.contoso.test\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n")
	for i := 0; ; i++ {
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := c.r.ReadString('\n')
		if err != nil {
			break
		}
		if !strings.HasPrefix(line, "5") || i > 6 {
			t.Fatalf("reply %d: %q", i, line)
		}
	}
}
