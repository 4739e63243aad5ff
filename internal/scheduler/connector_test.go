package scheduler

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/queue"
)

// flakySink is a real SMTP server that answers 451 to the first n RCPTs
// and then accepts, recording each message.
type flakySink struct {
	mu       sync.Mutex
	failures int
	bodies   []string
}

func (f *flakySink) NewSession(*smtp.Conn) (smtp.Session, error) { return &flakySession{f}, nil }

type flakySession struct{ f *flakySink }

func (s *flakySession) Reset()                               {}
func (s *flakySession) Logout() error                        { return nil }
func (s *flakySession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *flakySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if strings.HasPrefix(to, "never") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "unknown user"}
	}
	if s.f.failures > 0 {
		s.f.failures--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	return nil
}
func (s *flakySession) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.bodies = append(s.f.bodies, string(b))
	return nil
}

func TestConnectorRetryThenSuccess(t *testing.T) {
	sink := &flakySink{failures: 1}
	srv := smtp.NewServer(sink)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	f := newFixture(t)
	agent := &delivery.SMTP{Hosts: []string{ln.Addr().String()}, Helo: "hub1", DefaultDomain: "contoso.test", Timeout: 5 * time.Second}
	f.s.Connector = func(name string) delivery.Agent {
		if name == "Internet" {
			return agent
		}
		return nil
	}
	m, err := f.add(queue.Envelope{From: "alice@contoso.test", Arrival: f.now, Recipients: []queue.Recipient{
		{Written: "carol@fabrikam.test", Type: "SMTP", Address: "carol@fabrikam.test"},
		{Written: "never@fabrikam.test", Type: "SMTP", Address: "never@fabrikam.test"},
	}}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.s.RunOnce(context.Background())
	got, _ := f.s.Queue.Get(m.ID)
	carol, never := got.Recipients[0], got.Recipients[1]
	if carol.State != queue.Pending || carol.Last.Status != "4.3.0" || !strings.Contains(carol.Last.RemoteText, "451 4.3.0 try again later") {
		t.Fatalf("after a 451: %+v", carol)
	}
	if never.State != queue.Failed || never.Last.Status != "5.1.1" || !strings.Contains(never.Last.RemoteText, "550 5.1.1 unknown user") {
		t.Fatalf("after a 550: %+v", never)
	}
	// Not due yet: nothing is sent.
	f.s.RunOnce(context.Background())
	if len(sink.bodies) != 0 {
		t.Fatalf("sent before the retry was due")
	}
	// The first retry is due a glitch interval (1m, jitter 0.5 -> x1.0) later.
	f.now = carol.NextAttempt
	f.s.RunOnce(context.Background())
	if len(sink.bodies) != 1 || sink.bodies[0] != "Subject: hi\r\n\r\nhello\r\n" {
		t.Fatalf("after the retry the sink has %q", sink.bodies)
	}
	if _, err := f.s.Queue.Get(m.ID); err == nil {
		t.Error("message still queued though every recipient is final")
	}
}

// A destination that takes the connection and never answers holds one
// worker; mail for elsewhere that arrives meanwhile is delivered at once,
// not after the stalled delivery's timeout.
func TestStalledDeliveryDoesNotHoldTheQueue(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c // and say nothing
		}
	}()

	f := newFixture(t)
	agent := &delivery.SMTP{Hosts: []string{ln.Addr().String()}, Helo: "hub1", DefaultDomain: "contoso.test", Timeout: time.Minute}
	f.s.Connector = func(name string) delivery.Agent { return agent }
	add := func(to string) {
		t.Helper()
		if _, err := f.add(queue.Envelope{From: "bob@fabrikam.test", Arrival: f.now, Recipients: []queue.Recipient{
			{Written: to, Type: "SMTP", Address: to}}}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n")); err != nil {
			t.Fatal(err)
		}
		f.s.Wake()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	add("carol@fabrikam.test")
	var stalled net.Conn
	select {
	case stalled = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the delivery to the silent host never connected")
	}
	defer stalled.Close() // lets the stalled delivery end at cleanup

	add("alice@contoso.test")
	deadline := time.Now().Add(10 * time.Second)
	for len(f.inbox(t, delivery.Folder("alice@contoso.test"))) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("alice's message waited for the stalled delivery")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
