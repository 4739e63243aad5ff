package test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/test/harness"
)

// TestCrashNeverLosesAcceptedMail is the crash test of issue 3: a client
// sends 2,000 messages over 10 concurrent sessions while the hub is killed
// with SIGKILL five times at random moments and restarted. A message whose
// session dies before its 250 is sent again, as a real client would (so
// a crash may duplicate it); every 50th message is abandoned in the middle
// of DATA on purpose. Afterwards every message that received a 250 is in
// the mailbox at least once, no abandoned message is, and the quarantine
// is empty.
func TestCrashNeverLosesAcceptedMail(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	dir := t.TempDir()
	listen := harness.Port(t)
	file := filepath.Join(dir, "org.toml")
	data := filepath.Join(dir, "data", "hub1")
	harness.Write(t, file, fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
retry = { glitch_count = 4, glitch_interval = "1s" }
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
  [[server.receive]]
  name = "Default"
  listen = %q
[[accepted_domain]]
domain = "contoso.test"
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test"]
`, listen))

	hub := harness.Start(t, file, "hub1", listen)

	const sessions, perSession = 10, 200
	acked := make([]bool, sessions*perSession)
	abandoned := make([]bool, sessions*perSession)
	var wg sync.WaitGroup
	for s := 0; s < sessions; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perSession; i++ {
				n := s*perSession + i
				if n%50 == 49 {
					abandon(listen, n)
					abandoned[n] = true
					continue
				}
				for attempt := 0; ; attempt++ {
					if send(listen, n) == nil {
						acked[n] = true
						break
					}
					if attempt > 400 {
						t.Errorf("message %d: no 250 after %d tries", n, attempt)
						return
					}
					time.Sleep(25 * time.Millisecond) // the hub is restarting
				}
			}
		}()
	}
	// The kills happen on the test goroutine, where harness.Start may fail
	// the test.
	rng := rand.New(rand.NewPCG(3, 4))
	for k := 0; k < 5; k++ {
		time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
		hub.Kill()
		hub = harness.Start(t, file, "hub1", listen)
	}
	wg.Wait()
	releasePoison(t, file)

	seq := regexp.MustCompile(`(?m)^X-Seq: (\d+)\r$`)
	folder := delivery.Folder("alice@contoso.test")
	counts := func() map[int]int {
		got := map[int]int{}
		for _, m := range harness.Maildir(t, data, folder) {
			if sm := seq.FindStringSubmatch(m); sm != nil {
				var n int
				fmt.Sscan(sm[1], &n)
				got[n]++
			}
		}
		return got
	}
	// 180 s: a loaded machine under -race, not the design.
	harness.WaitFor(t, 180*time.Second, "every acknowledged message in the mailbox", func() bool {
		got := counts()
		for n, ok := range acked {
			if ok && got[n] == 0 {
				return false
			}
		}
		return true
	})
	got := counts()
	dups := 0
	for n, c := range got {
		if abandoned[n] {
			t.Errorf("message %d was abandoned before the end of DATA but delivered", n)
		}
		if c > 1 {
			dups++
		}
	}
	t.Logf("%d messages acknowledged, %d abandoned, %d delivered more than once", count(acked), count(abandoned), dups)
	if q, _ := os.ReadDir(filepath.Join(data, "queue", "quarantine")); len(q) != 0 {
		t.Errorf("quarantine is not empty: %v", q)
	}
	if err := hub.Stop(); err != nil {
		t.Errorf("final SIGTERM: %v", err)
	}
}

func body(n int) string {
	return fmt.Sprintf("From: bob@fabrikam.test\r\nTo: alice@contoso.test\r\nSubject: crash test %d\r\nX-Seq: %d\r\n\r\nmessage %d\r\n", n, n, n)
}

func send(addr string, n int) error {
	return smtp.SendMail(addr, nil, "bob@fabrikam.test", []string{"alice@contoso.test"}, []byte(body(n)))
}

// abandon starts a message and drops the connection in the middle of DATA.
func abandon(addr string, n int) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 512)
	read := func() { c.Read(buf) }
	read()
	for _, cmd := range []string{"EHLO client\r\n", "MAIL FROM:<bob@fabrikam.test>\r\n", "RCPT TO:<alice@contoso.test>\r\n", "DATA\r\n"} {
		c.Write([]byte(cmd))
		read()
	}
	c.Write([]byte(body(n)[:40]))
}

// releasePoison releases the poison queue of hub1, as an administrator
// would (`waypost queue release poison`), once the kills are over. A
// message being delivered at two consecutive kills is held there by
// design (docs/operations.md, the poison queue); the kills of the crash
// tests, under a second apart, make that likely on a loaded machine.
// Released, it is delivered like any other, and must still leave one
// copy.
func releasePoison(t *testing.T, file string) {
	t.Helper()
	out, err := exec.Command(harness.Binary(t), "queue", "--config", file, "--server", "hub1", "release", "poison").CombinedOutput()
	if err != nil {
		t.Fatalf("waypost queue release poison: %v\n%s", err, out)
	}
	t.Logf("after the kills: %s", strings.TrimSpace(string(out)))
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
