package test

import (
	"fmt"
	"math/rand/v2"
	"net/smtp"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/test/harness"
)

// TestRedeliveryLeavesOneCopy is issue 15 item 6: messages to four
// mailboxes stream in while the hub is killed (SIGKILL) five times, so
// that deliveries cut short are done again after each restart. A message
// the client sent once (its first try got a 250, so the client never sent
// it again) must be in each of the four mailboxes exactly once: a
// delivery repeated after a crash finds its copy and adds none.
func TestRedeliveryLeavesOneCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	dir := t.TempDir()
	listen := harness.Port(t)
	file := filepath.Join(dir, "org.toml")
	data := filepath.Join(dir, "data", "hub1")
	users := []string{"alice", "bob", "carol", "dave"}
	recipients := ""
	for _, u := range users {
		recipients += fmt.Sprintf("[[recipient]]\nkind = \"mailbox\"\nname = %q\nserver = \"hub1\"\naddresses = [\"SMTP:%s@contoso.test\"]\n", u, u)
	}
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
%s`, listen, recipients))

	hub := harness.Start(t, file, "hub1", listen)
	var to []string
	for _, u := range users {
		to = append(to, u+"@contoso.test")
	}

	const sessions, perSession = 5, 120
	once := make([]bool, sessions*perSession) // a 250 at the first try
	var wg sync.WaitGroup
	for s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSession {
				n := s*perSession + i
				for attempt := 0; ; attempt++ {
					err := smtp.SendMail(listen, nil, "bob@fabrikam.test", to, []byte(fmt.Sprintf(
						"From: bob@fabrikam.test\r\nSubject: redelivery %d\r\nX-Seq: %d\r\n\r\nmessage %d\r\n", n, n, n)))
					if err == nil {
						once[n] = attempt == 0
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
	rng := rand.New(rand.NewPCG(5, 6))
	for range 5 {
		time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
		hub.Kill()
		hub = harness.Start(t, file, "hub1", listen)
	}
	wg.Wait()

	seq := regexp.MustCompile(`(?m)^X-Seq: (\d+)\r$`)
	counts := func(user string) map[int]int {
		got := map[int]int{}
		for _, m := range harness.Maildir(t, data, delivery.Folder(user+"@contoso.test")) {
			if sm := seq.FindStringSubmatch(m); sm != nil {
				var n int
				fmt.Sscan(sm[1], &n)
				got[n]++
			}
		}
		return got
	}
	harness.WaitFor(t, 60*time.Second, "every message in every mailbox", func() bool {
		for _, u := range users {
			if len(counts(u)) < sessions*perSession {
				return false
			}
		}
		return true
	})
	sentOnce, dups := 0, 0
	for n := range once {
		if once[n] {
			sentOnce++
		}
	}
	for _, u := range users {
		for n, c := range counts(u) {
			if once[n] && c != 1 {
				dups++
				if dups <= 5 {
					t.Errorf("message %d, sent once, is in %s's mailbox %d times", n, u, c)
				}
			}
		}
	}
	t.Logf("%d messages, %d sent once; %d extra copies of those", sessions*perSession, sentOnce, dups)
	if err := hub.Stop(); err != nil {
		t.Errorf("final SIGTERM: %v", err)
	}
}
