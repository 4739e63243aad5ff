package delivery

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// sink is a real SMTP server on loopback that records what it receives
// and refuses recipients by their local part: "bad..." 550, "later..." 451.
type sink struct {
	mu   sync.Mutex
	got  []sunk
	addr string
}

type sunk struct {
	from string
	to   []string
	body string
}

type sinkSession struct {
	s    *sink
	from string
	to   []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch {
	case strings.HasPrefix(to, "bad"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	case strings.HasPrefix(to, "later"):
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy, try later"}
	}
	ss.to = append(ss.to, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.got = append(ss.s.got, sunk{ss.from, ss.to, string(b)})
	return nil
}

func startSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func TestSMTPPerRecipientResults(t *testing.T) {
	s := startSink(t)
	a := &SMTP{Hosts: []string{s.addr}, Helo: "hub1.contoso.test", DefaultDomain: "contoso.test", Timeout: 5 * time.Second}
	body := "Subject: x\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n"
	m := message(body,
		Recipient{Type: "SMTP", Address: "carol@fabrikam.test"},
		Recipient{Type: "SMTP", Address: "bad@fabrikam.test"},
		Recipient{Type: "SMTP", Address: "later@fabrikam.test"},
		Recipient{Type: "FAX", Address: "+1 555 0100"},
	)
	res := a.Deliver(context.Background(), m)
	want := []struct {
		class  Class
		status string
	}{{Relayed, "2.0.0"}, {Failed, "5.1.1"}, {Retry, "4.2.1"}, {Relayed, "2.0.0"}}
	for i, w := range want {
		if res[i].Class != w.class || res[i].Status != w.status || res[i].RemoteHost != s.addr {
			t.Errorf("recipient %d: %+v, want %s %s", i, res[i], w.class, w.status)
		}
	}
	if !strings.Contains(res[1].RemoteText, "550 5.1.1 no such user here") {
		t.Errorf("the remote reply is not kept exactly: %q", res[1].RemoteText)
	}
	if len(s.got) != 1 {
		t.Fatalf("sink got %d messages", len(s.got))
	}
	g := s.got[0]
	if g.from != "bob@fabrikam.test" || strings.Join(g.to, ",") != "carol@fabrikam.test,IMCEAFAX-+2B1+20555+200100@contoso.test" {
		t.Errorf("envelope %s -> %v", g.from, g.to)
	}
	if g.body != body {
		t.Errorf("body changed in transit (dot-stuffing):\n%q\n%q", g.body, body)
	}
}

func TestSMTPNextHostAfterConnectionFailure(t *testing.T) {
	s := startSink(t)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	a := &SMTP{Hosts: []string{deadAddr, s.addr}, Timeout: 5 * time.Second, Encapsulation: "rfc3192"}
	res := a.Deliver(context.Background(), message("x\r\n", Recipient{Type: "FAX", Address: "+15550100"}))
	if res[0].Class != Relayed || res[0].RemoteHost != s.addr {
		t.Fatalf("%+v", res[0])
	}
	if to := s.got[0].to[0]; to != "FAX=+15550100@127.0.0.1" {
		t.Errorf("RFC 3192 encapsulation: %s", to)
	}
	all := (&SMTP{Hosts: []string{deadAddr}, Timeout: time.Second}).Deliver(context.Background(), message("x\r\n", Recipient{Type: "SMTP", Address: "a@b.test"}))
	if all[0].Class != Retry || all[0].Status != "4.4.1" {
		t.Errorf("every host down: %+v", all[0])
	}
}

func TestSMTPRequiredTLSRefusedWhenNotOffered(t *testing.T) {
	s := startSink(t)
	res := (&SMTP{Hosts: []string{s.addr}, TLS: "required", Timeout: time.Second}).Deliver(context.Background(), message("x\r\n", Recipient{Type: "SMTP", Address: "a@b.test"}))
	if res[0].Class != Retry || !strings.Contains(res[0].Text, "STARTTLS") {
		t.Errorf("%+v", res[0])
	}
	if len(s.got) != 0 {
		t.Error("sent without TLS though TLS is required")
	}
}
