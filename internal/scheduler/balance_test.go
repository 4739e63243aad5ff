package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/testnet"
	"github.com/waypost/waypost/internal/tracking"
)

// The order of equivalent hubs: fewest queued or in flight first, in turn
// on ties, hubs in back-off last (soonest back first).
func TestBalancerOrder(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	var b balancer
	hubs := []string{"hub-b", "hub-c", "hub-d"}
	var firsts []string
	for range 6 {
		firsts = append(firsts, b.order(hubs, nil, now)[0])
	}
	if want := []string{"hub-b", "hub-c", "hub-d", "hub-b", "hub-c", "hub-d"}; !reflect.DeepEqual(firsts, want) {
		t.Errorf("equal hubs in turn: %q, want %q", firsts, want)
	}
	if got := b.order(hubs, map[string]int{"hub-b": 3, "hub-c": 1, "hub-d": 2}, now); !reflect.DeepEqual(got, []string{"hub-c", "hub-d", "hub-b"}) {
		t.Errorf("by queue: %q", got)
	}
	b.busy("hub-c", 1)
	b.busy("HUB-C", 1)
	if got := b.order(hubs, map[string]int{"hub-b": 1}, now); !reflect.DeepEqual(got, []string{"hub-d", "hub-b", "hub-c"}) {
		t.Errorf("queued plus in flight: %q", got)
	}
	b.busy("hub-c", -1)
	b.busy("hub-c", -1)
	b.fail("hub-b", now.Add(time.Minute))
	b.fail("hub-d", now.Add(30*time.Second))
	for range 3 {
		if got := b.order(hubs, nil, now); !reflect.DeepEqual(got, []string{"hub-c", "hub-d", "hub-b"}) {
			t.Errorf("back-off last, soonest back first: %q", got)
		}
	}
	if got := b.order(hubs, map[string]int{"hub-c": 100}, now); got[0] != "hub-c" {
		t.Errorf("a hub that is up comes before hubs in back-off, whatever its queue: %q", got)
	}
	later := now.Add(45 * time.Second)
	if got := b.order(hubs, map[string]int{"hub-c": 1}, later); !reflect.DeepEqual(got, []string{"hub-d", "hub-c", "hub-b"}) {
		t.Errorf("hub-d's back-off over: %q", got)
	}
	b.answered("hub-b")
	if got := b.order(hubs, map[string]int{"hub-c": 1, "hub-d": 1}, now); got[0] != "hub-b" {
		t.Errorf("a hub that answered is out of back-off: %q", got)
	}
}

// relaySink stands for a hub's relay listener: a real SMTP server on
// loopback that counts messages and, while refuse is set, answers RCPT
// with 451.
type relaySink struct {
	addr   string
	srv    *smtp.Server
	refuse atomic.Bool
	mu     sync.Mutex
	got    int
}

func startRelaySink(t *testing.T) *relaySink {
	t.Helper()
	s := &relaySink{}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "sink.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *relaySink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

func (s *relaySink) NewSession(*smtp.Conn) (smtp.Session, error) { return &relaySinkSession{s}, nil }

type relaySinkSession struct{ s *relaySink }

func (r *relaySinkSession) Reset()                               {}
func (r *relaySinkSession) Logout() error                        { return nil }
func (r *relaySinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (r *relaySinkSession) Rcpt(string, *smtp.RcptOptions) error {
	if r.s.refuse.Load() {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "busy"}
	}
	return nil
}
func (r *relaySinkSession) Data(rd io.Reader) error {
	io.Copy(io.Discard, rd)
	r.s.mu.Lock()
	r.s.got++
	r.s.mu.Unlock()
	return nil
}

// shareFixture is hub1 in site HQ and the connector Internet whose source
// servers hub-b and hub-c are in site Two, their relay listeners two
// sinks. The relay agents are real SMTP clients, one connection per
// message.
func shareFixture(t *testing.T, b, c string) *fixture {
	t.Helper()
	f := newFixtureOrg(t, fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
glitch_retry_interval = "5s"
hub_secret_file = "hub.secret"
[[accepted_domain]]
domain = "contoso.test"
[[site]]
name = "HQ"
[[site]]
name = "Two"
[[site_link]]
name = "HQ-Two"
sites = ["HQ", "Two"]
[[server]]
name = "hub1"
site = "HQ"
[[server]]
name = "hub-b"
site = "Two"
relay = "%s"
[[server]]
name = "hub-c"
site = "Two"
relay = "%s"
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub-b", "hub-c"]
delivery = { kind = "smtp", smart_hosts = ["127.0.0.1:1"] }
`, b, c))
	f.s.Workers = 1 // one message after the other: each choice sees the last one's outcome
	f.s.Relay = func(name string) delivery.Agent {
		peer := f.s.Engine.Load().Org().Server(name)
		if peer == nil || peer.Relay == "" {
			return nil
		}
		return &delivery.SMTP{Hosts: []string{peer.Relay}, Helo: "hub1.contoso.test", TLS: "none", Timeout: 5 * time.Second, ConnectTimeout: 500 * time.Millisecond}
	}
	return f
}

// send queues n messages to the Internet and runs the scheduler once.
func (f *fixture) send(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		m, err := f.add(queue.Envelope{From: "alice@contoso.test", Arrival: f.now, Recipients: []queue.Recipient{
			{Written: "carol@fabrikam.test", Type: "SMTP", Address: "carol@fabrikam.test"}}}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	f.s.RunOnce(context.Background())
	return ids
}

// events reads the fixture's tracking log.
func (f *fixture) events(t *testing.T, kind string) []tracking.Event {
	t.Helper()
	fh, err := os.Open(f.track)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var evs []tracking.Event
	if err := tracking.Search(fh, tracking.Filter{Event: kind}, func(e tracking.Event) { evs = append(evs, e) }, nil); err != nil {
		t.Fatal(err)
	}
	return evs
}

// Equal hubs take messages in turn; a hub that answered 4xx keeps its
// message (no fail-over: it was reached) and, with one more queued to it,
// gets no more until its queue is as short as the other's.
func TestHubsShareTheLoad(t *testing.T) {
	b, c := startRelaySink(t), startRelaySink(t)
	f := shareFixture(t, b.addr, c.addr)
	f.send(t, 4)
	if b.count() != 2 || c.count() != 2 {
		t.Fatalf("4 messages: hub-b took %d, hub-c %d; want 2 each", b.count(), c.count())
	}
	if sends := f.events(t, tracking.Send); len(sends) != 4 {
		t.Fatalf("SEND lines: %+v", sends)
	}
	routes := f.events(t, tracking.Route)
	if len(routes) != 4 || !strings.Contains(routes[0].Detail, ", hub hub-b of hub-b, hub-c") || !strings.Contains(routes[1].Detail, ", hub hub-c of hub-b, hub-c") {
		t.Errorf("ROUTE lines should name the hub chosen and the candidates: %+v", routes)
	}

	b.refuse.Store(true)
	ids := f.send(t, 1) // the turn is hub-b's
	m, err := f.s.Queue.Get(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if r := m.Recipients[0]; r.State != queue.Pending || r.NextHop != "hub:hub-b" || r.Last.Status != "4.3.0" {
		t.Fatalf("a 451 from hub-b: %+v, want pending in hub:hub-b with 4.3.0 (no fail-over)", r)
	}
	if c.count() != 2 {
		t.Errorf("hub-c took the message hub-b refused with 451: %d", c.count())
	}
	b.refuse.Store(false)
	f.send(t, 3)
	if b.count() != 2 || c.count() != 5 {
		t.Errorf("with one message queued to hub-b, hub-c should take the next 3: hub-b %d, hub-c %d", b.count(), c.count())
	}
}

// A hub that refuses the connection is skipped at once for the next, in
// the same attempt; it is left out for the glitch retry interval, then
// tried again.
func TestHubFailover(t *testing.T) {
	c := startRelaySink(t)
	f := shareFixture(t, testnet.RefusingAddr(t), c.addr) // hub-b is down: its port refuses connections
	ids := f.send(t, 3)
	for _, id := range ids {
		if _, err := f.s.Queue.Get(id); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("message %s still queued (%v): it should have gone to hub-c in its first attempt", id, err)
		}
	}
	if c.count() != 3 {
		t.Fatalf("hub-c took %d of 3", c.count())
	}
	sends := f.events(t, tracking.Send)
	if len(sends) != 3 || sends[0].NextHop != "hub:hub-c" || !strings.Contains(sends[0].Detail, "not reached, skipped: hub-b (") {
		t.Fatalf("the first SEND should say hub-b was skipped: %+v", sends)
	}
	for _, e := range sends[1:] {
		if strings.Contains(e.Detail, "skipped") {
			t.Errorf("hub-b in back-off was tried again: %+v", e)
		}
	}
	if !f.s.hubs.inBackoff("hub-b", f.now) {
		t.Error("hub-b is not in back-off")
	}

	f.now = f.now.Add(6 * time.Second) // glitch_retry_interval is 5s
	f.send(t, 2)
	sends = f.events(t, tracking.Send)
	skipped := 0
	for _, e := range sends[3:] {
		if strings.Contains(e.Detail, "not reached, skipped: hub-b") {
			skipped++
		}
	}
	if len(sends) != 5 || skipped != 1 || c.count() != 5 {
		t.Errorf("after the glitch interval hub-b should be tried once again (in its turn) and skipped: %d skipped, hub-c took %d; %+v", skipped, c.count(), sends[3:])
	}
	if defers := f.events(t, tracking.Defer); len(defers) != 0 {
		t.Errorf("no message should wait for a retry: %+v", defers)
	}
}

// A hub that takes the connection but does not greet within the connect
// timeout is skipped for the next in the same attempt, as one that
// refuses it is.
func TestHubFailoverOnTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { time.Sleep(3 * time.Second); c.Close() }() // silent
		}
	}()
	c := startRelaySink(t)
	f := shareFixture(t, ln.Addr().String(), c.addr)
	start := time.Now()
	f.send(t, 1) // hub-b's turn
	if took := time.Since(start); c.count() != 1 || took > 2500*time.Millisecond {
		t.Fatalf("hub-c took %d message(s) after %s", c.count(), took)
	}
	sends := f.events(t, tracking.Send)
	if len(sends) != 1 || sends[0].NextHop != "hub:hub-c" || !strings.Contains(sends[0].Detail, "not reached, skipped: hub-b (greeting: ") {
		t.Errorf("SEND should say hub-b timed out: %+v", sends)
	}
}

// Rerouting leaves a recipient queued for any of its equivalent hubs
// where it is: hub:hub-c is as good as routing's first, hub-b.
func TestRerouteKeepsEquivalentHub(t *testing.T) {
	b, c := startRelaySink(t), startRelaySink(t)
	f := shareFixture(t, b.addr, c.addr)
	c.refuse.Store(true)
	ids := f.send(t, 2) // the first to hub-b, the second to hub-c, which defers it
	m, err := f.s.Queue.Get(ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if r := m.Recipients[0]; r.NextHop != "hub:hub-c" || r.State != queue.Pending {
		t.Fatalf("second message: %+v, want pending in hub:hub-c", r)
	}
	a, err := f.s.Reroute(control.Select{}, "tester")
	if err != nil || len(a.Moves) != 0 {
		t.Errorf("reroute moved a recipient between equivalent hubs: %+v %v", a, err)
	}
}
