package delivery

import (
	"context"
	"net"
	"testing"
	"time"
)

// scripted listens on loopback and runs serve on each connection.
func scripted(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); serve(c) }()
		}
	}()
	return ln.Addr().String()
}

// A host that refuses the connection, or closes it or stays silent
// before its greeting, was not reached; one that answered, even 421 or
// 554, was; and so was one that took the message.
func TestUnreached(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()
	hangup := scripted(t, func(net.Conn) {})
	silent := scripted(t, func(c net.Conn) { time.Sleep(3 * time.Second) })
	busy := scripted(t, func(c net.Conn) { c.Write([]byte("421 4.3.2 busy\r\n")) })
	no := scripted(t, func(c net.Conn) { c.Write([]byte("554 5.7.1 go away\r\n")) })
	ok := startRawServer(t, nil)
	rcpt := Recipient{Type: "SMTP", Address: "a@b.test"}
	for _, c := range []struct {
		name, host string
		want       bool
	}{
		{"connection refused", refused, true},
		{"closed before the greeting", hangup, true},
		{"no greeting within the timeout", silent, true},
		{"421 greeting", busy, false},
		{"554 greeting", no, false},
		{"took the message", ok.addr, false},
	} {
		a := &SMTP{Hosts: []string{c.host}, TLS: "none", Timeout: time.Second}
		res := a.Deliver(context.Background(), message("Subject: x\r\n\r\nx\r\n", rcpt, rcpt))
		if got := Unreached(res); got != c.want {
			t.Errorf("%s: Unreached = %v, want %v (%+v)", c.name, got, c.want, res)
		}
	}
	if Unreached(nil) {
		t.Error("no results: Unreached is true")
	}
}
