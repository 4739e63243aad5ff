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

// ConnectTimeout bounds the session's setting up, not its commands: a
// host silent before its greeting is unreached after ConnectTimeout, not
// Timeout; the hub relay waits HubConnectTimeout at most by default.
func TestConnectTimeout(t *testing.T) {
	silent := scripted(t, func(c net.Conn) { time.Sleep(5 * time.Second) })
	a := &SMTP{Hosts: []string{silent}, TLS: "none", Timeout: time.Minute, ConnectTimeout: 300 * time.Millisecond}
	start := time.Now()
	res := a.Deliver(context.Background(), message("Subject: x\r\n\r\nx\r\n", Recipient{Type: "SMTP", Address: "a@b.test"}))
	if took := time.Since(start); !Unreached(res) || took > 3*time.Second {
		t.Errorf("a silent host with ConnectTimeout 300ms: unreached %v after %s (%+v)", Unreached(res), took, res)
	}
	ok := startRawServer(t, nil)
	a.Hosts = []string{ok.addr}
	if res := a.Deliver(context.Background(), message("Subject: x\r\n\r\nx\r\n", Recipient{Type: "SMTP", Address: "a@b.test"})); res[0].Class != Relayed {
		t.Errorf("a host that answers: %+v", res)
	}
	for _, c := range []struct {
		a    *SMTP
		want time.Duration
	}{
		{&SMTP{}, 5 * time.Minute},
		{&SMTP{Timeout: time.Minute}, time.Minute},
		{&SMTP{Hub: &HubAuth{}, Timeout: 5 * time.Minute}, HubConnectTimeout},
		{&SMTP{Hub: &HubAuth{}, Timeout: 10 * time.Second}, 10 * time.Second},
		{&SMTP{Hub: &HubAuth{}, Timeout: 5 * time.Minute, ConnectTimeout: 2 * time.Second}, 2 * time.Second},
	} {
		if got := c.a.connectTimeout(); got != c.want {
			t.Errorf("connect timeout of %+v: %s, want %s", c.a, got, c.want)
		}
	}
}
