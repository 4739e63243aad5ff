package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/waypost/waypost/test/harness"
)

// Big and many (issue 14 item 6): a hub that relays a message far larger
// than its working memory, and a message to very many recipients on very
// many domains, the way a large operator's worst day brings them.

// countingSink is a smart host that streams each message to nowhere,
// counting its bytes, and watches its connections: which recipient
// domain each carries and how many carry the same domain at once.
type countingSink struct {
	addr string

	mu       sync.Mutex
	bytes    []int64        // each message's size as received
	rcpts    map[string]int // each recipient, how many times it came
	active   map[string]int // domain -> connections carrying it now
	peak     map[string]int // domain -> most connections carrying it at once
	mixed    []string       // transactions with recipients of more than one domain
	sessions int
	limit    int // recipients a transaction; 0: no limit
	refused  int // RCPTs refused over the limit
}

func startCountingSink(t *testing.T) *countingSink {
	t.Helper()
	s := &countingSink{rcpts: map[string]int{}, active: map[string]int{}, peak: map[string]int{}}
	srv := gosmtp.NewServer(s)
	srv.Domain = "sink.test"
	srv.MaxMessageBytes = 200 << 20
	srv.MaxRecipients = 5000
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *countingSink) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	return &countingSession{s: s, domains: map[string]bool{}}, nil
}

// countingSession is one connection: the domains it carries count as
// active from their first RCPT until the connection ends.
type countingSession struct {
	s       *countingSink
	to      []string
	domains map[string]bool // carried by this connection so far
}

func (cs *countingSession) Reset()                                 { cs.to = nil }
func (cs *countingSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (cs *countingSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if cs.s.limit > 0 && len(cs.to) >= cs.s.limit {
		cs.s.mu.Lock()
		cs.s.refused++
		cs.s.mu.Unlock()
		return &gosmtp.SMTPError{Code: 452, EnhancedCode: gosmtp.EnhancedCode{4, 5, 3}, Message: "Too many recipients"}
	}
	cs.to = append(cs.to, to)
	d := strings.ToLower(to[strings.LastIndexByte(to, '@')+1:])
	if !cs.domains[d] {
		cs.domains[d] = true
		cs.s.mu.Lock()
		cs.s.active[d]++
		cs.s.peak[d] = max(cs.s.peak[d], cs.s.active[d])
		cs.s.mu.Unlock()
	}
	return nil
}

func (cs *countingSession) Data(r io.Reader) error {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return err
	}
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	cs.s.bytes = append(cs.s.bytes, n)
	seen := map[string]bool{}
	for _, to := range cs.to {
		cs.s.rcpts[to]++
		seen[to[strings.LastIndexByte(to, '@')+1:]] = true
	}
	if len(seen) > 1 {
		cs.s.mixed = append(cs.s.mixed, strings.Join(cs.to, ","))
	}
	return nil
}

func (cs *countingSession) Logout() error {
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	for d := range cs.domains {
		cs.s.active[d]--
	}
	return nil
}

func (s *countingSink) delivered() (messages int, rcpts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bytes), len(s.rcpts)
}

// bigOrg writes an organization whose hub relays for loopback clients
// (max 60 MB a message, 1,000 recipients) through the send connectors
// connectors, and returns the file and the receive address.
func bigOrg(t *testing.T, connectors string) (file, listen string) {
	t.Helper()
	dir := t.TempDir()
	listen = harness.Port(t)
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
  relay_ranges = ["127.0.0.1/32"]
  max_message_size = "60MB"
  max_recipients = 1000
[[accepted_domain]]
domain = "contoso.test"
%s`, listen, connectors))
	return file, listen
}

// memory reads the VmRSS and VmHWM (peak resident) lines of a process, in
// bytes.
func memory(t *testing.T, pid int) (rss, hwm int64) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		if k != "VmRSS" && k != "VmHWM" {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("/proc/%d/status: %s: %v", pid, sc.Text(), err)
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	return rss, hwm
}

// bigBody streams a message of about size bytes: headers, then lines of
// text, each line different, so that nothing along the way can keep it
// small by accident.
type bigBody struct {
	header []byte
	size   int64
	n      int64
	line   int
	buf    []byte
}

func (b *bigBody) Read(p []byte) (int, error) {
	if len(b.header) > 0 {
		n := copy(p, b.header)
		b.header = b.header[n:]
		return n, nil
	}
	if len(b.buf) == 0 {
		if b.n >= b.size {
			return 0, io.EOF
		}
		b.line++
		b.buf = fmt.Appendf(nil, "%08d the quick brown fox jumps over the lazy dog, line after line, to fill a big message\r\n", b.line)
		b.n += int64(len(b.buf))
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	return n, nil
}

// A 50 MB message is received, queued and relayed to a smart host with
// the hub's resident memory growing by less than 64 MB: it is streamed
// from the socket to the queue file and from the queue file to the next
// hop, never held whole.
func TestBigMessageStreamed(t *testing.T) {
	sink := startCountingSink(t)
	file, listen := bigOrg(t, fmt.Sprintf(`
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
max_message_size = "unlimited"
delivery = { kind = "smtp", smart_hosts = [%q] }
`, sink.addr))
	h := harness.Start(t, file, "hub1", listen)

	// A small message first, so that the memory measured before the big
	// one is that of a hub that has received, queued and relayed.
	if err := smtp.SendMail(listen, nil, "bob@fabrikam.test", []string{"carol@example.org"}, []byte("Subject: warm-up\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 20*time.Second, "the warm-up message at the sink", func() bool { m, _ := sink.delivered(); return m == 1 })
	time.Sleep(time.Second)
	before, _ := memory(t, h.PID())

	const size = 50 << 20
	c, err := smtp.Dial(listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.fabrikam.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("bob@fabrikam.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("carol@example.org"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	body := &bigBody{header: []byte("From: bob@fabrikam.test\r\nTo: carol@example.org\r\nSubject: big\r\n\r\n"), size: size}
	if _, err := io.Copy(w, body); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("the big message was not accepted: %v\n%s", err, h.Log())
	}
	c.Quit()
	harness.WaitFor(t, 3*time.Minute, "the big message at the sink", func() bool { m, _ := sink.delivered(); return m == 2 })
	_, peak := memory(t, h.PID())

	sink.mu.Lock()
	got := sink.bytes[1]
	sink.mu.Unlock()
	if got < size {
		t.Errorf("the sink received %d bytes, want at least %d", got, size)
	}
	growth := peak - before
	t.Logf("resident before %d MiB, peak after %d MiB, growth %d MiB", before>>20, peak>>20, growth>>20)
	if growth >= 64<<20 {
		t.Errorf("the hub's resident memory grew by %d MiB relaying a %d MiB message, want less than 64 MiB", growth>>20, size>>20)
	}
}

// sendMany sends one message to rcpts in one transaction.
func sendMany(t *testing.T, listen string, rcpts []string) {
	t.Helper()
	msg := "From: bob@fabrikam.test\r\nTo: undisclosed-recipients:;\r\nSubject: many\r\n\r\nOne message, many recipients.\r\n"
	if err := smtp.SendMail(listen, nil, "bob@fabrikam.test", rcpts, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// checkMany waits until every one of rcpts reached the sink, and checks
// that each came once and that no domain was ever carried by two
// connections at once.
func checkMany(t *testing.T, sink *countingSink, rcpts []string) {
	t.Helper()
	harness.WaitFor(t, 2*time.Minute, "every recipient at the sink", func() bool { _, n := sink.delivered(); return n == len(rcpts) })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, r := range rcpts {
		if n := sink.rcpts[r]; n != 1 {
			t.Errorf("%s arrived %d times", r, n)
		}
	}
	for d, n := range sink.peak {
		if n > 1 {
			t.Errorf("%d connections carried %s at once, want at most 1", n, d)
		}
	}
	if len(sink.peak) == 0 {
		t.Error("the sink saw no domain")
	}
	t.Logf("%d messages (transactions) over %d connections", len(sink.bytes), sink.sessions)
}

// A message to 1,000 recipients on 100 domains, each domain a next hop of
// its own (a send connector for it, all of them to one loopback smart
// host that tells them apart by the recipients' domain): every recipient
// gets it once, and no next hop ever has two connections for the message
// at once (Postfix's per-destination concurrency of 1 per message).
func TestManyRecipientsManyDomains(t *testing.T) {
	sink := startCountingSink(t)
	var connectors strings.Builder
	var rcpts []string
	for d := range 100 {
		fmt.Fprintf(&connectors, `
[[send_connector]]
name = "To d%d"
address_spaces = ["SMTP:d%d.test;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", smart_hosts = [%q] }
`, d, d, sink.addr)
		for r := range 10 {
			rcpts = append(rcpts, fmt.Sprintf("user%d@d%d.test", r, d))
		}
	}
	file, listen := bigOrg(t, connectors.String())
	harness.Start(t, file, "hub1", listen)
	sendMany(t, listen, rcpts)
	checkMany(t, sink, rcpts)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.mixed) > 0 {
		t.Errorf("%d transactions carried recipients of more than one domain, e.g. %s", len(sink.mixed), sink.mixed[0])
	}
}

// The same 1,000 recipients through one smart host that takes at most
// 100 recipients a transaction (RFC 5321 section 4.5.3.1.8: a server must
// take at least 100, and many take no more): the hub sends them in
// transactions of 100, one after the other, and every recipient gets the
// message once, at the first attempt, not after a retry for each 452.
func TestManyRecipientsOneSmartHost(t *testing.T) {
	sink := startCountingSink(t)
	sink.limit = 100
	var rcpts []string
	for d := range 100 {
		for r := range 10 {
			rcpts = append(rcpts, fmt.Sprintf("user%d@d%d.test", r, d))
		}
	}
	file, listen := bigOrg(t, fmt.Sprintf(`
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", smart_hosts = [%q] }
`, sink.addr))
	harness.Start(t, file, "hub1", listen)
	sendMany(t, listen, rcpts)
	checkMany(t, sink, rcpts)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.refused > 0 {
		t.Errorf("the sink refused %d recipients over its limit of 100 a transaction", sink.refused)
	}
}
