package test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/waypost/waypost/test/harness"
)

// gateSink refuses every recipient with 451 until open, and always the
// ones whose address starts with "later"; it counts the messages it took.
type gateSink struct {
	mu   sync.Mutex
	open bool
	got  int
}

func (g *gateSink) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &gateSession{g}, nil }

type gateSession struct{ g *gateSink }

func (s *gateSession) Reset()                                 {}
func (s *gateSession) Logout() error                          { return nil }
func (s *gateSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *gateSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	if !s.g.open || strings.HasPrefix(to, "later") {
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	return nil
}
func (s *gateSession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	s.g.mu.Lock()
	s.g.got++
	s.g.mu.Unlock()
	return nil
}

// With the queue's file system full (a small tmpfs filled on purpose),
// delivery goes on: messages whose smart host takes them are delivered
// and removed (which frees space), those still refused keep their state
// in memory, the write failure is logged at most once every 10 s, and
// once there is space again nothing was lost or corrupted.
func TestDiskFullDeliveryGoesOn(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })

	listen, smart := harness.Port(t), harness.Port(t)
	file := filepath.Join(dir, "org.toml")
	harness.Write(t, file, fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
retry = { glitch_count = 15, glitch_interval = "1s" }
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
data_dir = %q
  [[server.receive]]
  name = "Default"
  listen = %q
  kind = "smtp"
  relay_ranges = ["127.0.0.0/8"]
  max_message_size = "64KB"
[[accepted_domain]]
domain = "contoso.test"
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", smart_hosts = [%q] }
`, filepath.Join(mnt, "hub1"), listen, smart))

	sink := &gateSink{}
	srv := gosmtp.NewServer(sink)
	srv.Domain = "sink.test"
	ln, err := net.Listen("tcp", smart)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	hub := harness.Start(t, file, "hub1", listen)
	const now, later = 20, 5
	for i := range now + later {
		to := "now@fabrikam.test"
		if i >= now {
			to = "later@fabrikam.test"
		}
		sendMail(t, listen, to, fmt.Sprintf("m%d", i))
	}
	queued := func() int {
		ents, _ := os.ReadDir(filepath.Join(mnt, "hub1", "queue", "msg"))
		n := 0
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), "free-") { // a delivered message's file kept for reuse
				n++
			}
		}
		return n
	}
	if n := queued(); n != now+later {
		t.Fatalf("%d messages queued, want %d", n, now+later)
	}

	// Fill the file system to the last byte.
	n := 0
	fill := func() {
		t.Helper()
		n++
		filler, err := os.Create(filepath.Join(mnt, fmt.Sprintf("filler%d", n)))
		if err != nil {
			t.Fatal(err)
		}
		defer filler.Close()
		for _, size := range []int{1 << 20, 4096, 1} {
			buf := make([]byte, size)
			for {
				if _, err := filler.Write(buf); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatal(err)
					}
					break
				}
			}
		}
	}
	fill()

	sink.mu.Lock()
	sink.open = true
	sink.mu.Unlock()
	harness.WaitFor(t, 20*time.Second, "the deliverable messages delivered and removed with the disk full", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return sink.got == now && queued() == later
	})
	// Full again (the removals freed space): the refused ones are
	// attempted every second, and their results cannot be written.
	fill()
	logBefore := strings.Count(hub.Log(), "writing the results of an attempt")
	time.Sleep(4 * time.Second)
	if n := strings.Count(hub.Log(), "writing the results of an attempt") - logBefore; n < 1 || n > 3 {
		t.Errorf("the failed writes were logged %d times in a few seconds, want once or twice:\n%s", n, hub.Log())
	}
	if !hub.Alive() {
		t.Fatalf("the hub died with the disk full:\n%s", hub.Log())
	}

	// Space again: nothing lost or corrupted, across a crash too.
	for i := 1; i <= n; i++ {
		os.Remove(filepath.Join(mnt, fmt.Sprintf("filler%d", i)))
	}
	time.Sleep(6 * time.Second) // the kept state is written again
	hub.Kill()
	hub = harness.Start(t, file, "hub1", listen)
	defer hub.Stop()
	if q, _ := os.ReadDir(filepath.Join(mnt, "hub1", "queue", "quarantine")); len(q) != 0 {
		t.Errorf("quarantined after the full disk: %v\n%s", q, hub.Log())
	}
	out, err := exec.Command(harness.Binary(t), "queue", "--config", file, "--server", "hub1", "list", "--messages").CombinedOutput()
	if err != nil || strings.Count(string(out), "later@fabrikam.test") != later {
		t.Errorf("after the restart, want the %d refused messages queued: %v\n%s", later, err, out)
	}
}

func sendMail(t *testing.T, addr, to, subject string) {
	t.Helper()
	msg := fmt.Sprintf("From: alice@contoso.test\r\nTo: %s\r\nSubject: %s\r\n\r\nbody\r\n", to, subject)
	if err := smtp.SendMail(addr, nil, "alice@contoso.test", []string{to}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}
