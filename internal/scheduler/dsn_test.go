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

// notifySink is a real SMTP server that records the NOTIFY of each RCPT.
type notifySink struct {
	mu     sync.Mutex
	notify []string
}

func (n *notifySink) NewSession(*smtp.Conn) (smtp.Session, error) { return &notifySession{n}, nil }

type notifySession struct{ n *notifySink }

func (s *notifySession) Reset()                               {}
func (s *notifySession) Logout() error                        { return nil }
func (s *notifySession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *notifySession) Rcpt(to string, o *smtp.RcptOptions) error {
	var list []string
	if o != nil {
		for _, v := range o.Notify {
			list = append(list, string(v))
		}
	}
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	s.n.notify = append(s.n.notify, to+" "+strings.Join(list, ","))
	return nil
}
func (s *notifySession) Data(r io.Reader) error { _, err := io.ReadAll(r); return err }

// TestSuccessThroughSmartHost: NOTIFY=SUCCESS through a send connector.
// A smart host that offers DSN takes NOTIFY on and reports itself, so
// this hub sends no notification (RFC 3461 section 5.2.1); one without
// DSN gets a "relayed" notification from this hub (section 5.2.2).
func TestSuccessThroughSmartHost(t *testing.T) {
	for _, dsn := range []bool{true, false} {
		sink := &notifySink{}
		srv := smtp.NewServer(sink)
		srv.EnableDSN = dsn
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
		_, err = f.add(queue.Envelope{From: "alice@contoso.test", Arrival: f.now, Recipients: []queue.Recipient{
			{Written: "carol@fabrikam.test", Type: "SMTP", Address: "carol@fabrikam.test", Notify: "SUCCESS", ORCPT: "rfc822;carol@fabrikam.test"},
		}}, strings.NewReader("Subject: plans\r\n\r\nbody\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		f.s.RunOnce(context.Background()) // sends, and queues a notification if one is due
		f.s.RunOnce(context.Background()) // delivers the notification
		sink.mu.Lock()
		got := strings.Join(sink.notify, ";")
		sink.mu.Unlock()
		box := f.inbox(t, delivery.Folder("alice@contoso.test"))
		if dsn {
			if got != "carol@fabrikam.test SUCCESS" {
				t.Errorf("the DSN-capable smart host got %q, want NOTIFY=SUCCESS", got)
			}
			if len(box) != 0 {
				t.Errorf("a notification was sent though the smart host reports: %q", box)
			}
			continue
		}
		if got != "carol@fabrikam.test " {
			t.Errorf("a smart host without DSN got %q", got)
		}
		if len(box) != 1 || !strings.Contains(box[0], "Action: relayed\r\nStatus: 2.0.0") {
			t.Errorf("want one \"relayed\" notification, alice has %q", box)
		}
	}
}
