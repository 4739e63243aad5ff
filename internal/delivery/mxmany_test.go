package delivery

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// domainSink is an SMTP server on loopback that watches its connections:
// how many carry each recipient domain at once, and how many
// transactions are under way at once. Each message takes it a little while, so that sessions overlap.
type domainSink struct {
	port string

	mu                 sync.Mutex
	rcpts              map[string]int // recipient -> times received
	active, peak       map[string]int // per domain
	open, peakOpen     int            // transactions (MAIL to the end of DATA)
	sessions, messages int
}

func startDomainSink(t *testing.T) *domainSink {
	t.Helper()
	s := &domainSink{rcpts: map[string]int{}, active: map[string]int{}, peak: map[string]int{}}
	srv := smtp.NewServer(s)
	srv.Domain = "sink.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, s.port, _ = net.SplitHostPort(ln.Addr().String())
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *domainSink) NewSession(*smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions++
	return &domainSession{s: s, domains: map[string]bool{}}, nil
}

type domainSession struct {
	s       *domainSink
	to      []string
	domains map[string]bool
}

func (ds *domainSession) Reset() { ds.to = nil }
func (ds *domainSession) Mail(string, *smtp.MailOptions) error {
	ds.s.mu.Lock()
	defer ds.s.mu.Unlock()
	ds.s.open++
	ds.s.peakOpen = max(ds.s.peakOpen, ds.s.open)
	return nil
}
func (ds *domainSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ds.to = append(ds.to, to)
	d := to[strings.LastIndexByte(to, '@')+1:]
	if !ds.domains[d] {
		ds.domains[d] = true
		ds.s.mu.Lock()
		ds.s.active[d]++
		ds.s.peak[d] = max(ds.s.peak[d], ds.s.active[d])
		ds.s.mu.Unlock()
	}
	return nil
}

func (ds *domainSession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	time.Sleep(20 * time.Millisecond)
	ds.s.mu.Lock()
	defer ds.s.mu.Unlock()
	ds.s.messages++
	ds.s.open--
	for _, to := range ds.to {
		ds.s.rcpts[to]++
	}
	return nil
}

func (ds *domainSession) Logout() error {
	ds.s.mu.Lock()
	defer ds.s.mu.Unlock()
	for d := range ds.domains {
		ds.s.active[d]--
	}
	return nil
}

// A message to 1,000 recipients on 100 domains, each with its own MX
// host, without smart hosts: every recipient gets it once; the domains go
// side by side, at most MXParallel at once, and never two sessions for
// one domain at a time (Postfix's per-destination concurrency).
func TestMXManyDomains(t *testing.T) {
	d := startDNS(t)
	sink := startDomainSink(t)
	var rcpts []Recipient
	for i := range 100 {
		d.addMX(fmt.Sprintf("d%d.test.", i), 10, fmt.Sprintf("mx.d%d.test.", i))
		d.addA(fmt.Sprintf("mx.d%d.test.", i))
		for r := range 10 {
			rcpts = append(rcpts, smtpTo(fmt.Sprintf("user%d@d%d.test", r, i)))
		}
	}
	a := &SMTP{Resolver: d.resolver(), Port: sink.port, Helo: "hub1.contoso.test", DefaultDomain: "contoso.test", Timeout: 5 * time.Second}
	res := a.Deliver(context.Background(), message("Subject: many\r\n\r\nhi\r\n", rcpts...))
	for i, r := range res {
		if r.Class != Relayed {
			t.Errorf("recipient %d: %+v", i, r)
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, r := range rcpts {
		if n := sink.rcpts[r.Address]; n != 1 {
			t.Errorf("%s arrived %d times", r.Address, n)
		}
	}
	for dom, n := range sink.peak {
		if n != 1 {
			t.Errorf("%s: %d sessions at once, want 1", dom, n)
		}
	}
	if sink.messages != 100 || sink.sessions != 100 || sink.peakOpen < 2 || sink.peakOpen > DefaultMXParallel {
		t.Errorf("%d messages over %d sessions, at most %d at once; want 100, 100, and 2 to %d at once", sink.messages, sink.sessions, sink.peakOpen, DefaultMXParallel)
	}
}
