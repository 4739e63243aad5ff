package delivery

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// A panic while delivering (here, in reading the queued message) does not
// take the hub down: it is recovered, logged with its stack, and every
// recipient is retried 4.3.0 with a text that says so.
func TestSMTPPanicIsRetry(t *testing.T) {
	peer := startFaultPeer(t, func(*faultPeer) {})
	var log strings.Builder
	a := &SMTP{Hosts: []string{peer.addr}, TLS: "none", Timeout: 5 * time.Second,
		Log: slog.New(slog.NewTextHandler(&log, nil))}
	m := message("x\r\n", smtpTo("carol@fabrikam.test"), smtpTo("dave@fabrikam.test"))
	m.Open = func() (io.ReadCloser, error) { panic("the queue file is haunted") }
	res := a.Deliver(context.Background(), m)
	for _, r := range res {
		if r.Class != Retry || r.Status != "4.3.0" || !strings.Contains(r.Text, "panic: the queue file is haunted") {
			t.Errorf("%+v", r)
		}
	}
	if len(res) != 2 || !strings.Contains(log.String(), "panic recovered in delivery") || !strings.Contains(log.String(), "delivery.(*SMTP).try") {
		t.Errorf("%d results; log:\n%s", len(res), log.String())
	}
}

// panicConn is a real connection whose writes panic once armed: a
// stand-in for a bug below the client's writer goroutine.
type panicConn struct {
	net.Conn
	armed bool
}

func (p *panicConn) Write(b []byte) (int, error) {
	if p.armed {
		panic("a write that panics")
	}
	return p.Conn.Write(b)
}

// A panic in the goroutine that writes a pipelined envelope is recovered
// and logged, and the transaction ends in an error that says so, not in
// a crash of the hub.
func TestSMTPPipelineWriterPanic(t *testing.T) {
	peer := startFaultPeer(t, func(p *faultPeer) { p.pipelining = true })
	raw, err := net.Dial("tcp", peer.addr)
	if err != nil {
		t.Fatal(err)
	}
	pc := &panicConn{Conn: raw}
	var log strings.Builder
	c := newClient(pc, 5*time.Second)
	c.log = slog.New(slog.NewTextHandler(&log, nil))
	defer c.close()
	if err := c.greet(); err != nil {
		t.Fatal(err)
	}
	if err := c.hello("hub1.contoso.test"); err != nil {
		t.Fatal(err)
	}
	pc.armed = true
	_, err = c.begin("MAIL FROM:<bob@fabrikam.test>", []string{"RCPT TO:<carol@fabrikam.test>"}, true)
	if err == nil || !strings.Contains(err.Error(), "panic: a write that panics") {
		t.Errorf("begin: %v", err)
	}
	if !strings.Contains(log.String(), "panic recovered in delivery") {
		t.Errorf("log:\n%s", log.String())
	}
}
