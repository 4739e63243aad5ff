package test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/test/harness"
)

// floodConns is the flood of the stress tests: 50 loopback addresses
// (127.0.0.2 to 127.0.0.51, all on lo under Linux), 20 connections each,
// within max_connections_per_ip, 1,000 in all: max_connections.
const (
	floodAddrs   = 50
	floodPerAddr = 20
)

// raiseFileLimit makes room for the flood's sockets in the test process
// (the hub, a Go program, raises its own soft limit to the hard one).
func raiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur >= need {
		return
	}
	if rl.Max < need {
		t.Skipf("RLIMIT_NOFILE hard limit %d is below the %d sockets the test needs", rl.Max, need)
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
}

// stressOrg is a hub with the default Internet-facing limits
// (max_connections 1000, max_connections_per_ip 20) on "Default", and a
// submission connector for Alice.
func stressOrg(t *testing.T, dir, smtp, submission string) string {
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
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
  [[server.receive]]
  name = "Clients"
  listen = %q
  kind = "submission"
[[accepted_domain]]
domain = "contoso.test"
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test"]
password_hash = %q
`, smtp, submission, hash))
	return file
}

// flood opens the 1,000 connections, each greeted with 220, and runs
// after on each (from a goroutine per address). It returns once all are
// open, with a function that closes them.
func flood(t *testing.T, addr string, after func(c net.Conn, r *bufio.Reader) error) func() {
	t.Helper()
	var mu sync.Mutex
	var conns []net.Conn
	var failed []string
	var wg sync.WaitGroup
	for a := range floodAddrs {
		wg.Add(1)
		go func(ip string) {
			defer wg.Done()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
			for range floodPerAddr {
				c, err := d.Dial("tcp", addr)
				if err != nil {
					mu.Lock()
					failed = append(failed, err.Error())
					mu.Unlock()
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				r := bufio.NewReader(c)
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
				greeting, err := r.ReadString('\n')
				if err == nil && !strings.HasPrefix(greeting, "220 ") {
					err = fmt.Errorf("greeting %q", greeting)
				}
				if err == nil && after != nil {
					err = after(c, r)
				}
				if err != nil {
					mu.Lock()
					failed = append(failed, ip+": "+err.Error())
					mu.Unlock()
					return
				}
			}
		}(fmt.Sprintf("127.0.0.%d", a+2))
	}
	wg.Wait()
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
	if len(failed) > 0 {
		closeAll()
		t.Fatalf("flood: %d of %d connections failed, first: %s", len(failed), floodAddrs*floodPerAddr, failed[0])
	}
	return closeAll
}

// newcomer is a client arriving during the flood: it must be greeted
// within 5 s and have its message accepted within 10 s.
func newcomer(t *testing.T, addr, subject string) {
	t.Helper()
	began := time.Now()
	c := dialFrom(t, "127.0.0.1", addr)
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	greeting, err := c.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(greeting, "220 ") {
		t.Fatalf("newcomer: greeting %q, %v after %v", greeting, err, time.Since(began))
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("newcomer greeted after %v, want within 5 s", d)
	}
	c.cmd("EHLO newcomer.fabrikam.test", "250 ")
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: " + subject + "\r\n\r\nhello\r\n.\r\n")
	c.expect("250 ")
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("newcomer's message accepted after %v, want within 10 s", d)
	}
	c.cmd("QUIT", "221 ")
}

// submit sends a message on the submission connector as Alice: it works
// whatever the Internet-facing connector suffers.
func submit(t *testing.T, addr, subject string) {
	t.Helper()
	c := dialFrom(t, "127.0.0.1", addr)
	c.expect("220 ")
	c.cmd("EHLO laptop.contoso.test", "250 ")
	c.cmd(authPlainLine("alice@contoso.test", "secret"), "235 ")
	c.cmd("MAIL FROM:<alice@contoso.test>", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: " + subject + "\r\n\r\nhello\r\n.\r\n")
	c.expect("250 ")
	c.cmd("QUIT", "221 ")
}

// TestStressIdleFlood: 1,000 idle connections from 50 addresses fill the
// Internet-facing connector (Postfix's postscreen/anvil scenario). A new
// client is still greeted within 5 s (the session idle longest makes
// room) and its message accepted within 10 s; authenticated submission
// works throughout.
func TestStressIdleFlood(t *testing.T) {
	raiseFileLimit(t, 4*floodAddrs*floodPerAddr)
	dir := t.TempDir()
	smtp, submission := harness.Port(t), harness.Port(t)
	h := harness.Start(t, stressOrg(t, dir, smtp, submission), "hub1", smtp, submission)
	closeAll := flood(t, smtp, func(c net.Conn, r *bufio.Reader) error {
		_, err := c.Write([]byte("EHLO idle.fabrikam.test\r\n"))
		return err
	})
	defer closeAll()
	submit(t, submission, "during the idle flood")
	newcomer(t, smtp, "newcomer")
	newcomer(t, smtp, "second newcomer")
	if log := h.Log(); !strings.Contains(log, "under stress") || !strings.Contains(log, "closed to make room") {
		t.Errorf("stress not logged:\n%.3000s", log)
	}
	noRace(t, h)
}

// TestStressFloodRelay: hub-to-hub relay goes on while the
// Internet-facing connector of the receiving hub is flooded. Two hubs:
// hub1 has Alice's mailbox, the Internet-facing connector and a relay
// listener; Bob submits on hub2, whose relay hands the message to hub1's
// relay listener, which counts its own connections and has its own limits
// (docs/operations.md, "Stress mode"). The flood is 1,000 connections from
// 50 addresses that send NOOP every 2 s, so that the stress timeout does
// not end them: hub1's connector stays full while the message goes
// through.
func TestStressFloodRelay(t *testing.T) {
	raiseFileLimit(t, 4*floodAddrs*floodPerAddr)
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	smtp, relay1, relay2, submission := harness.Port(t), harness.Port(t), harness.Port(t), harness.Port(t)
	harness.Write(t, filepath.Join(dir, "hub.secret"), "c3RyZXNzIHRlc3QgaHViIHNlY3JldCwgbm90IGZvciB1c2U=\n")
	file := filepath.Join(dir, "org.toml")
	harness.Write(t, file, fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
hub_secret_file = "hub.secret"
retry = { glitch_count = 15, glitch_interval = "1s", transient_count = 15, transient_interval = "1s", outbound_interval = "1s" }
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
data_dir = "data/hub1"
relay = %q
  [[server.receive]]
  name = "Default"
  listen = %q
[[server]]
name = "hub2"
site = "HQ"
data_dir = "data/hub2"
relay = %q
  [[server.receive]]
  name = "Clients"
  listen = %q
  kind = "submission"
[[accepted_domain]]
domain = "contoso.test"
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test"]
[[recipient]]
kind = "mailbox"
name = "Bob"
server = "hub2"
addresses = ["SMTP:bob@contoso.test"]
password_hash = %q
`, relay1, smtp, relay2, submission, hash))
	h1 := harness.Start(t, file, "hub1", smtp, relay1)
	h2 := harness.Start(t, file, "hub2", relay2, submission)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var cut atomic.Int32 // flood connections hub1 ended
	var firstCut atomic.Value
	closeAll := flood(t, smtp, func(c net.Conn, r *bufio.Reader) error {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(2 * time.Second)
			defer tick.Stop()
			for cmd := "EHLO busy.fabrikam.test"; ; cmd = "NOOP" {
				c.SetDeadline(time.Now().Add(30 * time.Second)) // a slow answer is not an end
				_, err := c.Write([]byte(cmd + "\r\n"))
				for err == nil {
					var s string
					if s, err = r.ReadString('\n'); err == nil && (len(s) < 4 || s[3] != '-') {
						if !strings.HasPrefix(s, "250") {
							err = fmt.Errorf("%q", s) // 421: ended by hub1
						}
						break
					}
				}
				select {
				case <-stop:
					return
				default:
				}
				if err != nil {
					cut.Add(1)
					firstCut.CompareAndSwap(nil, cmd+": "+err.Error())
					return
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		return nil
	})
	defer func() { close(stop); closeAll(); wg.Wait() }()

	began := time.Now()
	c := dialFrom(t, "127.0.0.1", submission)
	c.expect("220 ")
	c.cmd("EHLO laptop.contoso.test", "250 ")
	c.cmd(authPlainLine("bob@contoso.test", "secret"), "235 ")
	c.cmd("MAIL FROM:<bob@contoso.test>", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: relayed during the flood\r\n\r\nhello\r\n.\r\n")
	c.expect("250 ")
	c.cmd("QUIT", "221 ")

	data1 := filepath.Join(dir, "data", "hub1")
	folder := delivery.Folder("alice@contoso.test")
	delivered := func() bool {
		for _, m := range harness.Maildir(t, data1, folder) {
			if strings.Contains(m, "Subject: relayed during the flood") {
				return true
			}
		}
		return false
	}
	// hub2 tries hub1 at once; a failed try would wait glitch_interval
	// (1 s). 30 s is for a loaded machine under -race, not the design.
	deadline := time.Now().Add(30 * time.Second)
	for !delivered() {
		if time.Now().After(deadline) {
			t.Fatalf("the message relayed from hub2 is not in Alice's mailbox on hub1 after 30 s\n--- hub1\n%.6000s\n--- hub2\n%.4000s", h1.Log(), h2.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(began)
	// The flood was on all along: hub1's connector was (and is) full.
	if n := cut.Load(); n > 0 {
		t.Errorf("hub1 ended %d of the flood's connections, which kept busy (first: %v): the connector was not full while the message was relayed", n, firstCut.Load())
	}
	if b, _ := os.ReadFile(filepath.Join(data1, "tracking.log")); !strings.Contains(string(b), `"detail":"via relay"`) {
		t.Errorf("hub1 did not receive the message on its relay listener:\n%s", b)
	}
	if log := h1.Log(); !strings.Contains(log, "under stress") {
		t.Errorf("hub1's Internet-facing connector was not under stress:\n%.3000s", log)
	}
	t.Logf("submitted on hub2 and delivered on hub1 in %v during the flood", took)
	noRace(t, h1)
	noRace(t, h2)
}

// noRace fails the test if the hub (built with -race) reported a data race.
func noRace(t *testing.T, h *harness.Hub) {
	t.Helper()
	if log := h.Log(); strings.Contains(log, "DATA RACE") {
		i := strings.Index(log, "WARNING: DATA RACE")
		t.Errorf("the hub reported a data race:\n%.4000s", log[max(i, 0):])
	}
}

// TestStressTrickleFlood: the same with 1,000 clients that trickle one
// byte of DATA every 3 s, which command and data timeouts alone let go
// on for hours.
func TestStressTrickleFlood(t *testing.T) {
	raiseFileLimit(t, 4*floodAddrs*floodPerAddr)
	dir := t.TempDir()
	smtp, submission := harness.Port(t), harness.Port(t)
	h := harness.Start(t, stressOrg(t, dir, smtp, submission), "hub1", smtp, submission)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	closeAll := flood(t, smtp, func(c net.Conn, r *bufio.Reader) error {
		for _, cmd := range []string{"EHLO slow.fabrikam.test", "MAIL FROM:<bob@fabrikam.test>", "RCPT TO:<alice@contoso.test>", "DATA"} {
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
				return err
			}
			for {
				s, err := r.ReadString('\n')
				if err != nil {
					return fmt.Errorf("%s: %v", cmd, err)
				}
				if len(s) >= 4 && s[3] == '-' {
					continue
				}
				if want := map[bool]string{true: "354", false: "250"}[cmd == "DATA"]; !strings.HasPrefix(s, want) {
					return fmt.Errorf("%s: %q", cmd, s)
				}
				break
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(3 * time.Second)
			defer tick.Stop()
			for {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		return nil
	})
	defer func() { close(stop); closeAll(); wg.Wait() }()
	submit(t, submission, "during the trickle flood")
	newcomer(t, smtp, "newcomer")
	newcomer(t, smtp, "second newcomer")
	if log := h.Log(); !strings.Contains(log, "under stress") {
		t.Errorf("stress not logged:\n%.3000s", log)
	}
	noRace(t, h)
}

// authPlainLine is an AUTH PLAIN command (RFC 4616) for user and pass.
func authPlainLine(user, pass string) string {
	return "AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass))
}
