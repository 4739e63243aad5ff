package smtpd

import (
	"bufio"
	"encoding/base64"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
)

// dialFrom connects from a given loopback address (Linux answers for all of
// 127.0.0.0/8), to stand for a second client machine.
func (h *harness) dialFrom(ip string) *client {
	h.t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return &client{t: h.t, conn: c, r: bufio.NewReader(c)}
}

// helloFrom dials from ip and greets with EHLO.
func (h *harness) helloFrom(ip string) *client {
	h.t.Helper()
	c := h.dialFrom(ip)
	c.expect("220 ")
	c.cmd("EHLO client.fabrikam.test", "250 ")
	return c
}

// counts is a test double for the metrics the hub wires to Events: it
// counts what the listener reports.
type counts struct {
	mu           sync.Mutex
	sessions     int
	authFailures int
	rejects      []string // "421 4.7.0"
	accepted     []int64
}

func (c *counts) option(l *Listener) {
	l.SetEvents(Events{
		OnSession:     func() { c.mu.Lock(); c.sessions++; c.mu.Unlock() },
		OnAuthFailure: func() { c.mu.Lock(); c.authFailures++; c.mu.Unlock() },
		OnReject: func(code int, enhanced string) {
			c.mu.Lock()
			c.rejects = append(c.rejects, strings.TrimSpace(strconv.Itoa(code)+" "+enhanced))
			c.mu.Unlock()
		},
		OnAccept: func(size int64) { c.mu.Lock(); c.accepted = append(c.accepted, size); c.mu.Unlock() },
	})
}

// rejected counts the rejects reported with the reply "code enhanced".
func (c *counts) rejected(reply string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.rejects {
		if r == reply {
			n++
		}
	}
	return n
}

func (c *counts) snapshot() counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return counts{sessions: c.sessions, authFailures: c.authFailures, rejects: append([]string(nil), c.rejects...), accepted: append([]int64(nil), c.accepted...)}
}

// TestBareLFAllowList covers T04: bare LF from a client in bare_lf_ranges
// is made CRLF and accepted; the same bytes from any other client are
// refused; a bare CR is refused from both; and no bare-LF form of a lone
// dot ends the data or lets a second message in (T01-T03 hold for the
// allow-listed client too).
func TestBareLFAllowList(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) {
		rc.MaxErrors = 100
		rc.BareLFRanges = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	})
	legacy := h.helloFrom("127.0.0.2")

	// Bare LF line ends, a dot-stuffed line after one, an empty line made
	// of a bare LF, and a CRLF line: kept with CRLF.
	legacy.transaction("app@contoso.test", "alice@contoso.test")
	legacy.send("Subject: legacy\n\nline one\n..stuffed\n\nlast\r\n.\r\n")
	legacy.expect("250 ")
	msgs := h.q.all()
	if len(msgs) != 1 {
		t.Fatalf("%d messages queued", len(msgs))
	}
	const want = "Subject: legacy\r\n\r\nline one\r\n.stuffed\r\n\r\nlast\r\n"
	if body := msgs[0].body; !strings.HasSuffix(body, "\r\n"+want) || strings.Count(body, "\n") != strings.Count(body, "\r\n") {
		t.Errorf("content %q, want it to end in %q with CRLF only", body, want)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "bare LF line ends made CRLF") {
		t.Errorf("the fix-up is not logged:\n%s", logs)
	}

	// The smuggling sequences are refused for the allow-listed client too,
	// each after the real end of data, with nothing queued and the session
	// in step; only the plain bare LF case is now accepted.
	var cases []smugglingCase
	for _, c := range smugglingCases {
		if c.name != "T04 bare LF" {
			cases = append(cases, c)
		}
	}
	cases = append(cases, smugglingCase{"LF.LF then LF.CRLF", "\n.\n\n.\r\n", "550 5.5.2 Bare LF next to a lone dot"})
	h.q.mu.Lock()
	h.q.msgs = nil
	h.q.mu.Unlock()
	runSmuggling(t, h, legacy, cases)
	legacy.t = t

	// What the smuggling refusal says for <LF>.<LF>.
	legacy.transaction("app@contoso.test", "alice@contoso.test")
	legacy.send("Subject: x\n\nx\n.\n" + smuggled + "\r\n.\r\n")
	legacy.expect("550 5.5.2 Bare LF next to a lone dot in message; only CRLF.CRLF ends the data")
	legacy.cmd("RSET", "250 ")
	legacy.silent()
	// A lone dot with a bare LF as the first line of the data.
	legacy.transaction("app@contoso.test", "alice@contoso.test")
	legacy.send(".\n" + smuggled + "\r\n.\r\n")
	legacy.expect("550 5.5.2 Bare LF next to a lone dot")
	legacy.cmd("RSET", "250 ")
	legacy.silent()

	// A client outside the list: the same bytes are refused.
	other := h.hello()
	other.transaction("app@contoso.test", "alice@contoso.test")
	other.send("Subject: legacy\n\nline one\n..stuffed\n\nlast\r\n.\r\n")
	other.expect("550 5.5.2 Bare CR or LF in message")
	other.cmd("RSET", "250 ")
	if n := len(h.q.all()); n != 0 {
		t.Errorf("%d messages queued", n)
	}
}

// TestHeaderSize covers T12: a header section over max_header_size is
// refused with 552 5.3.4 after the end of data, nothing is queued, and the
// session stays in step; a large body under a small header is fine, and so
// is a message whose first line is not a header field.
func TestHeaderSize(t *testing.T) {
	t.Parallel()
	ev := &counts{}
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxHeaderSize = 2000 }, ev.option)
	c := h.hello()
	field := "X-Filler: " + strings.Repeat("f", 88) + "\r\n" // 100 bytes
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send(strings.Repeat(field, 21) + "Subject: big header\r\n\r\nbody\r\n.\r\nNOOP\r\n")
	c.expect("552 5.3.4 Message header section too big; the limit is 2000 bytes")
	c.expect("250 ") // NOOP: in step
	if n := len(h.q.all()); n != 0 {
		t.Fatalf("%d messages queued", n)
	}

	// 19 fields and a Subject, under 2000 bytes, and a 10 kB body.
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send(strings.Repeat(field, 19) + "Subject: fits\r\n\r\n" + strings.Repeat(field, 100) + ".\r\n")
	c.expect("250 ")

	// No header section at all: the first line is the body's.
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Hello, no header here\r\n" + strings.Repeat(field, 100) + ".\r\n")
	c.expect("250 ")
	if n := len(h.q.all()); n != 2 {
		t.Fatalf("%d messages queued, want 2", n)
	}
	if got := ev.rejected("552 5.3.4"); got != 1 {
		t.Errorf("OnReject(552, 5.3.4) called %d times, want 1", got)
	}
	if s := ev.snapshot(); len(s.accepted) != 2 || s.accepted[0] < 10000 {
		t.Errorf("OnAccept sizes %v", s.accepted)
	}
}

// TestExactSize: a message of exactly max_message_size is accepted (go-smtp
// alone refuses it), one byte more is refused, and EHLO advertises the
// limit itself.
func TestExactSize(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxMessageSize = 2000 })
	c := h.dial()
	if r := c.cmd("EHLO client.fabrikam.test", "250 "); !strings.Contains(r, "250-SIZE 2000\n") {
		t.Errorf("EHLO does not advertise SIZE 2000:\n%s", r)
	}
	head := "Subject: exact\r\n\r\n"
	line := strings.Repeat("x", 98) + "\r\n"
	body := head + strings.Repeat(line, 19) + strings.Repeat("y", 2000-len(head)-19*100-2) + "\r\n"
	if len(body) != 2000 {
		t.Fatalf("test message is %d bytes", len(body))
	}
	c.cmd("MAIL FROM:<bob@fabrikam.test> SIZE=2001", "552 5.3.4 ")
	c.cmd("MAIL FROM:<bob@fabrikam.test> SIZE=2000", "250 ")
	c.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send(body + ".\r\n")
	c.expect("250 ")
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("z" + body + ".\r\n")
	c.expect("552 5.3.4 ")
	c.cmd("RSET", "250 ")
	if msgs := h.q.all(); len(msgs) != 1 || !strings.HasSuffix(msgs[0].body, body) {
		t.Errorf("queued %d", len(msgs))
	}
}

func TestSpaceNeeded(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		max, min, size int64
		want           uint64
	}{
		{35_000_000, 0, 0, 52_500_000},
		{35_000_000, 0, 1000, 52_500_000},
		{0, 0, 0, 0}, // unlimited, no SIZE, no minimum: no check
		{0, 0, 1000, 1500},
		{1000, 1 << 30, 0, 1 << 30},
		{1000, 0, 0, 1500},
	} {
		rc := &config.ReceiveConnector{MaxMessageSize: tt.max, MinFreeSpace: tt.min}
		if got := spaceNeeded(rc, tt.size); got != tt.want {
			t.Errorf("spaceNeeded(max %d, min %d, SIZE %d) = %d, want %d", tt.max, tt.min, tt.size, got, tt.want)
		}
	}
}

// TestDiskFree runs the real statfs on a real folder.
func TestDiskFree(t *testing.T) {
	t.Parallel()
	free, err := diskFree(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if free == 0 {
		t.Fatal("no free space reported for the test's temporary folder")
	}
	if _, err := diskFree("/nonexistent/waypost/queue"); err == nil {
		t.Error("no error for a missing folder")
	}
}

// TestFreeSpace covers T15: MAIL is refused with 452 4.3.1 while the queue's
// file system has less free than 1.5 x max_message_size (or
// min_free_space), and accepted again once there is room.
func TestFreeSpace(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	free := uint64(1000)
	var asked []string
	statfs := func(dir string) (uint64, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, dir)
		return free, nil
	}
	dir := t.TempDir()
	ev := &counts{}
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxMessageSize = 10_000 }, func(l *Listener) {
		l.SetQueueDir(dir)
		l.statfs = statfs
	}, ev.option)
	c := h.hello()
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "452 4.3.1 Insufficient system storage")
	mu.Lock()
	free = 14_999
	mu.Unlock()
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "452 4.3.1 ")
	mu.Lock()
	free = 15_000
	mu.Unlock()
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	c.cmd("RSET", "250 ")
	c.cmd("MAIL FROM:<bob@fabrikam.test> SIZE=10001", "552 5.3.4 ") // over the limit, before any space check
	mu.Lock()
	if len(asked) != 3 || asked[0] != dir {
		t.Errorf("statfs asked about %v, want %s three times", asked, dir)
	}
	mu.Unlock()
	if got := ev.rejected("452 4.3.1"); got != 2 {
		t.Errorf("OnReject(452, 4.3.1) called %d times, want 2", got)
	}

	// The real statfs: a test folder has room for 1.5 x 10 kB, but not for
	// a minimum of 2^62 bytes.
	real := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxMessageSize = 10_000 }, func(l *Listener) { l.SetQueueDir(t.TempDir()) })
	c = real.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: room\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	full := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MinFreeSpace = 1 << 62 }, func(l *Listener) { l.SetQueueDir(t.TempDir()) })
	c = full.hello()
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "452 4.3.1 ")
	if logs := full.logs.String(); !strings.Contains(logs, "queue file system nearly full") {
		t.Errorf("not logged:\n%s", logs)
	}

	// A file system whose free space cannot be read is not refused (the
	// queue's own writes still fail safely), and that is logged once.
	broken := start(t, "Default", nil, func(l *Listener) {
		l.SetQueueDir(dir)
		l.statfs = func(string) (uint64, error) { return 0, errors.New("statfs: input/output error") }
	})
	c = broken.hello()
	for i := 0; i < 2; i++ {
		c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
		c.cmd("RSET", "250 ")
	}
	if n := strings.Count(broken.logs.String(), "cannot read the queue's free space"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, broken.logs.String())
	}
}

// authPlain is an AUTH PLAIN command line for user and pass.
func authPlain(user, pass string) string {
	return "AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass))
}

// TestAuthLockout covers T35: three failed AUTH close a session; repeated
// failures from one address across sessions lock that address out, at
// connect and at AUTH, for auth_lockout; another address is not affected;
// the failures are reported to OnAuthFailure.
func TestAuthLockout(t *testing.T) {
	t.Parallel()
	ev := &counts{}
	h := start(t, "Clients", func(rc *config.ReceiveConnector) {
		rc.MaxAuthFailuresPerIP = 4
		rc.AuthFailureWindow = time.Minute
		rc.AuthLockout = 700 * time.Millisecond
	}, ev.option)
	early := h.helloFrom("127.0.0.1") // open before the lockout

	c := h.helloFrom("127.0.0.1")
	for i := 0; i < 2; i++ {
		c.cmd(authPlain("alice@contoso.test", "guess"), "535 5.7.8 ")
	}
	c.send(authPlain("alice@contoso.test", "guess") + "\r\n")
	c.expect("535 5.7.8 ")
	c.expect("421 4.7.0 Too many failed authentication attempts, closing connection")
	c.closed()

	// The fourth failure from 127.0.0.1 locks it out.
	c = h.helloFrom("127.0.0.1")
	c.send(authPlain("alice@contoso.test", "guess") + "\r\n")
	c.expect("535 5.7.8 ")
	c.expect("421 4.7.0 Too many failed authentication attempts from your address")
	c.closed()
	locked := time.Now()

	// A new connection is refused before the greeting, and AUTH in the
	// session opened earlier too, even with the right password.
	c = h.dialFrom("127.0.0.1")
	c.expect("421 4.7.0 Too many failed authentication attempts from your address")
	c.closed()
	early.send(authPlain("alice@contoso.test", "secret") + "\r\n")
	early.expect("421 4.7.0 ")
	early.closed()

	// Another address is not affected.
	c = h.helloFrom("127.0.0.2")
	c.cmd(authPlain("alice@contoso.test", "secret"), "235 ")
	c.cmd("QUIT", "221 ")

	// After the lockout, 127.0.0.1 may try again.
	time.Sleep(time.Until(locked.Add(800 * time.Millisecond)))
	c = h.helloFrom("127.0.0.1")
	c.cmd(authPlain("alice@contoso.test", "secret"), "235 ")

	s := ev.snapshot()
	if s.authFailures != 4 {
		t.Errorf("OnAuthFailure called %d times, want 4", s.authFailures)
	}
	if got := ev.rejected("421 4.7.0"); got != 4 { // session limit, lockout, connect, early AUTH
		t.Errorf("OnReject(421, 4.7.0) called %d times, want 4: %v", got, s.rejects)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "locked out after failed AUTH") || strings.Contains(logs, "guess") {
		t.Errorf("log:\n%s", logs)
	}
}

// TestConnectionLimits covers T37: the connection over
// max_connections_per_ip gets 421 4.7.0, the one over max_connections
// 421 4.3.2 when no idle session can make room (all are in a mail
// transaction here), both are closed, and closing a connection frees its
// place.
func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	ev := &counts{}
	h := start(t, "Default", func(rc *config.ReceiveConnector) {
		rc.MaxConnectionsPerIP = 3
		rc.MaxConnections = 5
	}, ev.option)
	busy := func(c *client) *client {
		c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
		return c
	}
	var ones []*client
	for i := 0; i < 3; i++ {
		ones = append(ones, busy(h.helloFrom("127.0.0.1")))
	}
	c := h.dialFrom("127.0.0.1")
	c.expect("421 4.7.0 Too many connections from your address")
	c.closed()
	for i := 0; i < 2; i++ {
		busy(h.helloFrom("127.0.0.2"))
	}
	c = h.dialFrom("127.0.0.2")
	c.expect("421 4.3.2 Too many connections")
	c.closed()

	c = h.dialFrom("127.0.0.3")
	c.expect("421 4.3.2 Too many connections")
	c.closed()

	ones[0].cmd("QUIT", "221 ")
	ones[0].closed()
	h.helloFrom("127.0.0.1") // its place is free again
	c = h.dialFrom("127.0.0.1")
	c.expect("421 4.7.0 ") // over its own limit: no one else's session is closed for it

	s := ev.snapshot()
	if s.sessions != 6 || ev.rejected("421 4.7.0") != 2 || ev.rejected("421 4.3.2") != 2 {
		t.Errorf("events: %d sessions, rejects %v", s.sessions, s.rejects)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "max_connections_per_ip reached") || !strings.Contains(logs, "max_connections reached") {
		t.Errorf("log:\n%s", logs)
	}
}

// TestSlowClients covers T36: a client trickling a command is closed at
// command_timeout; one trickling message data below min_data_rate gets
// 421 4.4.2 and is closed, nothing queued; and 50 slow clients do not
// hold up a normal one.
func TestSlowClients(t *testing.T) {
	t.Parallel()
	h := start(t, "Default", func(rc *config.ReceiveConnector) {
		rc.CommandTimeout = 400 * time.Millisecond
		rc.DataTimeout = 500 * time.Millisecond
		rc.MinDataRate = 1000
		rc.MaxConnectionsPerIP = 0
	})

	// One byte every 100 ms in the command phase: cut off at 400 ms.
	c := h.hello()
	began := time.Now()
	stop := trickle(c.conn, []byte("NOOP and more and more and more\r\n"), 1, 100*time.Millisecond)
	c.expect("421 4.4.2 ")
	c.closed()
	close(stop)
	if d := time.Since(began); d < 350*time.Millisecond || d > 2*time.Second {
		t.Errorf("closed after %s, want about 400ms", d)
	}

	// 10 bytes every 40 ms in DATA is 250 bytes/s, under 1000: each read
	// is within data_timeout, but the budget runs out after about 0.7s.
	c = h.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	began = time.Now()
	stop = trickle(c.conn, []byte(strings.Repeat("Subject: slow\r\n", 200)), 10, 40*time.Millisecond)
	c.expect("421 4.4.2 Message data too slow")
	c.closed()
	close(stop)
	if d := time.Since(began); d < 500*time.Millisecond || d > 3*time.Second {
		t.Errorf("closed after %s", d)
	}

	// 50 slow clients, half in the command phase and half in DATA, while a
	// normal client sends a message.
	var stops []chan struct{}
	for i := 0; i < 50; i++ {
		s := h.hello()
		if i%2 == 1 {
			s.transaction("bob@fabrikam.test", "alice@contoso.test")
		}
		stops = append(stops, trickle(s.conn, []byte(strings.Repeat("x", 1000)), 1, 50*time.Millisecond))
	}
	began = time.Now()
	c = h.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: normal\r\n\r\nquick\r\n.\r\n")
	c.expect("250 ")
	c.cmd("QUIT", "221 ")
	if d := time.Since(began); d > time.Second {
		t.Errorf("a normal client took %s beside 50 slow ones", d)
	}
	for _, s := range stops {
		close(s)
	}
	if n := len(h.q.all()); n != 1 {
		t.Errorf("%d messages queued, want 1", n)
	}
}

// trickle writes data to c, n bytes every interval, until it is written,
// a write fails or stop is closed.
func trickle(c net.Conn, data []byte, n int, interval time.Duration) chan struct{} {
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for len(data) > 0 {
			k := min(n, len(data))
			c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(data[:k]); err != nil {
				return
			}
			data = data[k:]
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return stop
}

// TestBadCommands: unknown and malformed commands count against max_errors
// (go-smtp alone closes at the fourth), and a web client is cut off at once.
func TestBadCommands(t *testing.T) {
	t.Parallel()
	ev := &counts{}
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxErrors = 6 }, ev.option)
	c := h.hello()
	c.cmd("XYZZ plugh", "500 5.5.2 Command unrecognized: XYZZ")
	c.cmd("", "500 5.5.2 ")
	c.cmd("NO", "501 5.5.2 ")
	c.cmd("NOOPS", "501 5.5.2 ")
	c.cmd("FOOO bar", "500 5.5.2 ")
	c.cmd("NOOP", "250 ") // five errors: still open
	c.send("BAZZ\r\n")    // the sixth: max_errors reached, closed
	c.expect("500 5.5.2 ")
	c.expect("421 4.7.0 Too many errors")
	c.closed()

	c = h.dial()
	c.send("GET / HTTP/1.1\r\nHost: hub-hq.contoso.test\r\n\r\n")
	c.expect("554 5.5.1 Not an SMTP command")
	c.closed()
	if got := ev.rejected("500 5.5.2"); got != 4 {
		t.Errorf("OnReject(500, 5.5.2) called %d times, want 4", got)
	}
}
