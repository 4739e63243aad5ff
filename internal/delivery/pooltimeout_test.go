package delivery

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// A kept session takes the time limits of the agent that takes it from
// the pool, not of the one that opened it: a shadow copy that may wait
// only seconds must not inherit a relay's minutes (package shadow).
func TestPooledSessionTakesTheAgentsTimeouts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	release := make(chan struct{})
	defer close(release)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		c.Write([]byte("220 stall.test ESMTP\r\n"))
		messages, inData := 0, false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case inData && line == ".\r\n":
				inData = false
				if messages++; messages == 2 {
					<-release // the second message's final dot is never answered
					return
				}
				c.Write([]byte("250 2.0.0 queued\r\n"))
			case inData:
			case strings.HasPrefix(line, "EHLO"):
				c.Write([]byte("250-stall.test\r\n250 PIPELINING\r\n"))
			case strings.HasPrefix(line, "DATA"):
				inData = true
				c.Write([]byte("354 go on\r\n"))
			case strings.HasPrefix(line, "QUIT"):
				c.Write([]byte("221 bye\r\n"))
				return
			default:
				c.Write([]byte("250 2.0.0 ok\r\n"))
			}
		}
	}()
	pool := &Pool{IdleTime: 5 * time.Second}
	defer pool.Close()
	slow := &SMTP{Hosts: []string{ln.Addr().String()}, Helo: "hub1.contoso.test", Timeout: time.Minute, Pool: pool}
	if res := slow.Deliver(context.Background(), message("Subject: 1\r\n\r\nx\r\n", smtpTo("carol@fabrikam.test"))); res[0].Class != Relayed {
		t.Fatalf("first message: %+v", res[0])
	}
	quick := &SMTP{Hosts: []string{ln.Addr().String()}, Helo: "hub1.contoso.test", Timeout: 300 * time.Millisecond, FinalTimeout: 300 * time.Millisecond, Pool: pool}
	start := time.Now()
	res := quick.Deliver(context.Background(), message("Subject: 2\r\n\r\nx\r\n", smtpTo("carol@fabrikam.test")))
	if took := time.Since(start); res[0].Class != Retry || took > 10*time.Second {
		t.Fatalf("on the kept session, a stalled final reply gave %+v after %s; want a retry after about 300ms", res[0], took)
	}
}
