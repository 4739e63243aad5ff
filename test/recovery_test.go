package test

import (
	"fmt"
	"io"
	"net"
	"net/smtp"
	"os/exec"
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
	stalled, release := ss.s.stalled, ss.s.release
	if stalled {
		ss.s.waiting++
	}
	ss.s.mu.Unlock()
	if stalled {
		<-release
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
	file, listen, sink := stallHub(t)
	hub := harness.Start(t, file, "hub1", listen)
	// More messages than the hub has workers (16): some hang in flight,
	// the others wait, accepted and never attempted.
	const n = 24
	for i := range n {
		sendTo(t, listen, fmt.Sprintf("m%d", i))
	}
	harness.WaitFor(t, 10*time.Second, "deliveries hanging in flight", sink.waitingFor(8))
	hub.Kill()
	sink.serve()

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

// A message in flight during two consecutive crashes of the real binary
// (SIGKILL while its delivery hangs) is in the poison queue after the
// second restart: logged, listed by `waypost queue list`, not attempted,
// until `waypost queue release` lets it go; then it is delivered.
func TestPoisonAfterTwoKills(t *testing.T) {
	file, listen, sink := stallHub(t)
	hub := harness.Start(t, file, "hub1", listen)
	sendTo(t, listen, "poison")
	harness.WaitFor(t, 10*time.Second, "the delivery hanging", sink.waitingFor(1))
	hub.Kill()
	hub = harness.Start(t, file, "hub1", listen)
	harness.WaitFor(t, 5*time.Second, "the delivery made again at once after the restart, hanging again", sink.waitingFor(2))
	hub.Kill()
	hub = harness.Start(t, file, "hub1", listen)
	defer hub.Stop()

	queue := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(harness.Binary(t), append([]string{"queue", "--config", file, "--server", "hub1"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("waypost queue %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	harness.WaitFor(t, 5*time.Second, "the message in the poison queue", func() bool { return strings.Contains(queue("list"), "poison") })
	time.Sleep(500 * time.Millisecond)
	sink.mu.Lock()
	if sink.waiting != 2 {
		t.Errorf("a poison message was attempted: %d sessions, want 2", sink.waiting)
	}
	sink.mu.Unlock()
	if !strings.Contains(hub.Log(), "poison message") {
		t.Errorf("the hub did not log the poison message:\n%s", hub.Log())
	}

	sink.serve()
	out := queue("release", "poison")
	harness.WaitFor(t, 5*time.Second, "the released message delivered", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		_, ok := sink.got["poison"]
		return ok
	})
	if list := queue("list"); strings.Contains(list, "poison") {
		t.Errorf("after release (%s) the queue still lists it:\n%s", strings.TrimSpace(out), list)
	}
}

// stallHub writes an organization whose Internet connector sends to a
// stalled smart host the test runs; it returns the file, the hub's SMTP
// address and the smart host.
func stallHub(t *testing.T) (file, listen string, sink *stallSink) {
	t.Helper()
	dir := t.TempDir()
	listen, smart := harness.Port(t), harness.Port(t)
	file = filepath.Join(dir, "org.toml")
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

	sink = &stallSink{stalled: true, release: make(chan struct{}), got: map[string]time.Time{}}
	srv := gosmtp.NewServer(sink)
	srv.Domain = "sink.test"
	ln, err := net.Listen("tcp", smart)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		sink.serve() // lets the stalled sessions end
		srv.Close()
	})
	return file, listen, sink
}

// waitingFor reports whether n sessions have stalled so far.
func (s *stallSink) waitingFor(n int) func() bool {
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.waiting >= n
	}
}

// serve ends the stall: the stalled sessions end, new ones are served.
func (s *stallSink) serve() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalled = false
	if s.release != nil {
		close(s.release)
		s.release = nil
	}
}

// sendTo sends a message with subject through the hub at addr.
func sendTo(t *testing.T, addr, subject string) {
	t.Helper()
	msg := fmt.Sprintf("From: alice@contoso.test\r\nTo: carol@fabrikam.test\r\nSubject: %s\r\n\r\nbody\r\n", subject)
	if err := smtp.SendMail(addr, nil, "alice@contoso.test", []string{"carol@fabrikam.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}
