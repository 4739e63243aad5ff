package test

import (
	"fmt"
	"io"
	"net"
	"net/smtp"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/waypost/waypost/test/harness"
)

// stallSink is a smart host that, while stalled, takes connections and
// MAIL and then says nothing (the deliveries hang in flight); once not
// stalled it accepts everything and notes when each message came.
type stallSink struct {
	mu      sync.Mutex
	stalled bool
	release chan struct{} // closed to let the stalled sessions go
	waiting int           // sessions stalled at MAIL
	got     map[string]time.Time
}

func (s *stallSink) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &stallSession{s}, nil }

type stallSession struct{ s *stallSink }

func (ss *stallSession) Reset()        {}
func (ss *stallSession) Logout() error { return nil }
func (ss *stallSession) Mail(string, *gosmtp.MailOptions) error {
	ss.s.mu.Lock()
	stalled := ss.s.stalled
	if stalled {
		ss.s.waiting++
	}
	ss.s.mu.Unlock()
	if stalled {
		<-ss.s.release
		return &gosmtp.SMTPError{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "stalled session closed"}
	}
	return nil
}
func (ss *stallSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }

var subjectRe = regexp.MustCompile(`(?m)^Subject: (.*)\r$`)

func (ss *stallSession) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if m := subjectRe.FindSubmatch(b); m != nil {
		if _, ok := ss.s.got[string(m[1])]; !ok {
			ss.s.got[string(m[1])] = time.Now()
		}
	}
	return nil
}

// After a SIGKILL, the messages that were in flight (their deliveries
// hanging on a smart host that says nothing) and those accepted but not
// yet attempted (every worker busy) are all attempted within 5 s of the
// restart, not at their next retry a minute later.
func TestRecoveryAfterKillIsPrompt(t *testing.T) {
	dir := t.TempDir()
	listen, smart := harness.Port(t), harness.Port(t)
	file := filepath.Join(dir, "org.toml")
	harness.Write(t, file, fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
  [[server.receive]]
  name = "Default"
  listen = %q
  kind = "smtp"
  relay_ranges = ["127.0.0.0/8"]
[[accepted_domain]]
domain = "contoso.test"
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", smart_hosts = [%q] }
`, listen, smart))

	sink := &stallSink{stalled: true, release: make(chan struct{}), got: map[string]time.Time{}}
	srv := gosmtp.NewServer(sink)
	srv.Domain = "sink.test"
	ln, err := net.Listen("tcp", smart)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	defer func() {
		sink.mu.Lock()
		if sink.release != nil {
			close(sink.release)
			sink.release = nil
		}
		sink.mu.Unlock()
	}()

	hub := harness.Start(t, file, "hub1", listen)
	// More messages than the hub has workers (16): some hang in flight,
	// the others wait, accepted and never attempted.
	const n = 24
	for i := range n {
		msg := fmt.Sprintf("From: alice@contoso.test\r\nTo: carol@fabrikam.test\r\nSubject: m%d\r\n\r\nbody\r\n", i)
		if err := smtp.SendMail(listen, nil, "alice@contoso.test", []string{"carol@fabrikam.test"}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	harness.WaitFor(t, 10*time.Second, "deliveries hanging in flight", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return sink.waiting >= 8
	})
	hub.Kill()

	sink.mu.Lock()
	sink.stalled = false
	close(sink.release) // the dead hub's sessions go; new ones are served
	sink.release = nil
	sink.mu.Unlock()

	restart := time.Now()
	hub = harness.Start(t, file, "hub1", listen)
	defer hub.Stop()
	deadline := restart.Add(5 * time.Second)
	for {
		sink.mu.Lock()
		got := len(sink.got)
		sink.mu.Unlock()
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			var missing []string
			sink.mu.Lock()
			for i := range n {
				if _, ok := sink.got[fmt.Sprintf("m%d", i)]; !ok {
					missing = append(missing, fmt.Sprintf("m%d", i))
				}
			}
			sink.mu.Unlock()
			t.Fatalf("%d of %d messages delivered within 5 s of the restart; missing %s\nhub log:\n%s", got, n, strings.Join(missing, " "), hub.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
