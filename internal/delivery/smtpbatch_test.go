package delivery

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A message to 250 recipients goes in transactions of at most 100
// recipients (RFC 5321 section 4.5.3.1.8), one after the other, on one
// connection when a Pool keeps it; every recipient gets its own result,
// in order.
func TestSMTPRecipientBatches(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		peer := startFaultPeer(t, func(p *faultPeer) { p.pipelining = pipelining })
		pool := &Pool{IdleTime: 5 * time.Second}
		a := &SMTP{Hosts: []string{peer.addr}, TLS: "none", Timeout: 5 * time.Second, Pool: pool}
		var rcpts []Recipient
		for i := range 250 {
			rcpts = append(rcpts, smtpTo(fmt.Sprintf("user%d@fabrikam.test", i)))
		}
		res := a.Deliver(context.Background(), message("x\r\n", rcpts...))
		pool.Close()
		if len(res) != 250 {
			t.Fatalf("%d results for 250 recipients", len(res))
		}
		for i, r := range res {
			if r.Class != Relayed {
				t.Errorf("recipient %d: %+v", i, r)
			}
		}
		lines, taken := peer.snapshot()
		var batches []int
		ehlos := 0
		for _, l := range lines {
			switch {
			case strings.HasPrefix(l, "EHLO"):
				ehlos++
			case strings.HasPrefix(l, "MAIL"):
				batches = append(batches, 0)
			case strings.HasPrefix(l, "RCPT"):
				batches[len(batches)-1]++
			}
		}
		if taken != 3 || ehlos != 1 || fmt.Sprint(batches) != "[100 100 50]" {
			t.Errorf("pipelining %v: %d messages over %d connections, recipients a transaction %v; want 3, 1, [100 100 50]", pipelining, taken, ehlos, batches)
		}
	}
}
