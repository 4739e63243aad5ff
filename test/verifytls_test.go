package test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/dane"
	"github.com/waypost/waypost/internal/dnstest"
	"github.com/waypost/waypost/internal/testcert"
	"github.com/waypost/waypost/test/harness"
)

// tlsSink is an outside SMTP server on loopback offering STARTTLS with a
// certificate, recording each message and whether it came over TLS.
type tlsSink struct {
	addr string
	port string
	mu   sync.Mutex
	got  []bool // per message: over TLS
}

func startTLSSink(t *testing.T, cert *testcert.Cert) *tlsSink {
	t.Helper()
	s := &tlsSink{}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &tlsSinkSession{s: s, c: c}, nil
	}))
	srv.Domain = "outside.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	_, s.port, _ = net.SplitHostPort(s.addr)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *tlsSink) messages() []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bool(nil), s.got...)
}

type tlsSinkSession struct {
	s *tlsSink
	c *gosmtp.Conn
}

func (ss *tlsSinkSession) Reset()                                 {}
func (ss *tlsSinkSession) Logout() error                          { return nil }
func (ss *tlsSinkSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (ss *tlsSinkSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (ss *tlsSinkSession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	_, isTLS := ss.c.TLSConnectionState()
	ss.s.mu.Lock()
	ss.s.got = append(ss.s.got, isTLS)
	ss.s.mu.Unlock()
	return nil
}

// TestDANEOutbound, through the real binary with its resolvers declared
// validating (dns_trusted) and the private DNS server playing one: a
// smart host whose DANE-EE record matches its certificate gets the mail
// over TLS; one whose record does not gets nothing, the mail waits with
// 4.7.5, and "waypost queue show" names the policy (dane) and the
// reason, which the tracking log's DEFER line carries too.
func TestDANEOutbound(t *testing.T) {
	goodCert, otherCert := testcert.New(t, "mx.fabrikam.test"), testcert.New(t, "mx.tailspin.test")
	good, bad := startTLSSink(t, goodCert), startTLSSink(t, goodCert)
	zone := dnstest.Start(t,
		"mx.fabrikam.test. 60 IN A 127.0.0.1",
		"_"+good.port+"._tcp.mx.fabrikam.test. 60 IN TLSA 3 1 1 "+dane.Record(goodCert.TLS.Leaf, 1, 1),
		"mx.tailspin.test. 60 IN A 127.0.0.1",
		"_"+bad.port+"._tcp.mx.tailspin.test. 60 IN TLSA 3 1 1 "+dane.Record(otherCert.TLS.Leaf, 1, 1))
	zone.Secure("fabrikam.test", "tailspin.test")

	dir := t.TempDir()
	listen := harness.Port(t)
	file := filepath.Join(dir, "org.toml")
	harness.Write(t, file, fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
fqdn = "hub1.contoso.test"
dns = [%q]
dns_trusted = true
  [[server.receive]]
  name = "Inside"
  listen = %q
  relay_ranges = ["127.0.0.1/32"]
[[accepted_domain]]
domain = "contoso.test"
[[send_connector]]
name = "Fabrikam"
address_spaces = ["SMTP:fabrikam.test;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", tls = "dane", smart_hosts = ["mx.fabrikam.test:%s"] }
[[send_connector]]
name = "Tailspin"
address_spaces = ["SMTP:tailspin.test;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", tls = "dane", smart_hosts = ["mx.tailspin.test:%s"] }
`, zone.Addr, listen, good.port, bad.port))
	if out, err := exec.Command(harness.Binary(t), "check", "--config", file).CombinedOutput(); err != nil {
		t.Fatalf("waypost check: %v\n%s", err, out)
	}
	h := harness.Start(t, file, "hub1", listen)

	for _, to := range []string{"bob@fabrikam.test", "carol@tailspin.test"} {
		msg := "From: alice@contoso.test\r\nTo: " + to + "\r\nSubject: dane\r\n\r\nHello.\r\n"
		if err := smtp.SendMail(listen, nil, "alice@contoso.test", []string{to}, []byte(msg)); err != nil {
			t.Fatalf("sending to %s: %v\n%s", to, err, h.Log())
		}
	}
	harness.WaitFor(t, 20*time.Second, "the message at the matching smart host", func() bool { return len(good.messages()) == 1 })
	if !good.messages()[0] {
		t.Error("the message to the DANE host did not come over TLS")
	}
	if !zone.Asked("_" + good.port + "._tcp.mx.fabrikam.test. TLSA") {
		t.Error("the hub did not ask for the TLSA records")
	}

	waiting := waitAttempted(t, file, "carol@tailspin.test")
	if r := waiting.Recipients[0]; r.LastStatus != "4.7.5" || r.TLS != "dane" || !strings.Contains(r.LastError, "no TLSA record matches") {
		t.Errorf("waiting recipient: %+v", r)
	}
	if n := len(bad.messages()); n != 0 {
		t.Errorf("the smart host whose certificate DANE refuses got %d messages", n)
	}
	out, err := exec.Command(harness.Binary(t), "queue", "--config", file, "--server", "hub1", "show", waiting.ID).CombinedOutput()
	if err != nil {
		t.Fatalf("waypost queue show: %v\n%s", err, out)
	}
	show := string(out)
	if !strings.Contains(show, "TLS policy: dane\n") || !strings.Contains(show, "last result: 4.7.5 mx.tailspin.test:"+bad.port+": ") || !strings.Contains(show, "no TLSA record matches the certificate of mx.tailspin.test") {
		t.Errorf("queue show does not say the policy and the reason:\n%s", show)
	}
	deferLine := false
	for _, l := range strings.Split(show, "\n") {
		if strings.Contains(l, " DEFER ") && strings.Contains(l, "4.7.5") && strings.Contains(l, "no TLSA record matches") {
			deferLine = true
		}
	}
	if !deferLine {
		t.Errorf("no DEFER line with the reason in the history:\n%s", show)
	}
}

// loopbackOn443 listens on port 443 and 25 of a random 127.x.y.z address
// (a real MTA-STS domain's ports: the hub asks https://mta-sts.DOMAIN/
// and MX hosts on 25), skipping the test where binding them is not
// allowed (not root, no CAP_NET_BIND_SERVICE).
func loopbackOn443(t *testing.T) (ip string, https, smtp net.Listener) {
	t.Helper()
	for range 20 {
		ip = fmt.Sprintf("127.%d.%d.%d", 1+rand.IntN(250), rand.IntN(255), 1+rand.IntN(250))
		h, err := net.Listen("tcp", ip+":443")
		if err != nil {
			if strings.Contains(err.Error(), "permission denied") {
				if os.Getenv("CI") != "" {
					t.Fatalf("cannot listen on port 443 in CI, where the tests run as root: %v", err)
				}
				t.Skipf("cannot listen on port 443: %v", err)
			}
			continue
		}
		s, err := net.Listen("tcp", ip+":25")
		if err != nil {
			h.Close()
			continue
		}
		return ip, h, s
	}
	t.Fatal("no free 127.x.y.z address for ports 443 and 25 in 20 tries")
	return "", nil, nil
}

// TestMTASTSOutbound, through the real binary and real ports (443 for
// the policy, 25 for the MX), with a test CA as the system's roots
// (SSL_CERT_FILE, which Go reads on Linux): mail to a domain whose
// enforced policy lists its MX, which has a valid certificate, is
// delivered over TLS, and the policy is fetched once for two messages
// and kept in the data folder; mail to a domain whose policy lists
// another MX waits with 4.7.5, and "waypost queue show" says so.
func TestMTASTSOutbound(t *testing.T) {
	ip, httpsLn, smtpLn := loopbackOn443(t)
	ca := testcert.NewCA(t)
	t.Setenv("SSL_CERT_FILE", ca.File(t))

	var mu sync.Mutex
	fetched := map[string]int{}
	policies := map[string]string{
		"mta-sts.fabrikam.test": "version: STSv1\r\nmode: enforce\r\nmx: mx.fabrikam.test\r\nmax_age: 86400\r\n",
		"mta-sts.tailspin.test": "version: STSv1\r\nmode: enforce\r\nmx: mail.tailspin.test\r\nmax_age: 86400\r\n",
	}
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetched[r.Host]++
		mu.Unlock()
		p, ok := policies[r.Host]
		if !ok || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, p)
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "mta-sts.fabrikam.test", "mta-sts.tailspin.test").TLS}}}
	go web.ServeTLS(httpsLn, "", "")
	t.Cleanup(func() { web.Close() })

	sink := &tlsSink{addr: smtpLn.Addr().String(), port: "25"}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) { return &tlsSinkSession{s: sink, c: c}, nil }))
	srv.Domain = "mx.fabrikam.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "mx.fabrikam.test", "mx.tailspin.test").TLS}}
	go srv.Serve(smtpLn)
	t.Cleanup(func() { srv.Close() })

	zone := dnstest.Start(t)
	for _, d := range []string{"fabrikam.test", "tailspin.test"} {
		zone.Add(t, d+". 60 IN MX 10 mx."+d+".")
		zone.Add(t, "mx."+d+". 60 IN A "+ip)
		zone.Add(t, "mta-sts."+d+". 60 IN A "+ip)
		zone.Add(t, "_mta-sts."+d+`. 60 IN TXT "v=STSv1; id=20261205"`)
	}

	dir := t.TempDir()
	listen := harness.Port(t)
	file := filepath.Join(dir, "org.toml")
	harness.Write(t, file, fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
fqdn = "hub1.contoso.test"
dns = [%q]
  [[server.receive]]
  name = "Inside"
  listen = %q
  relay_ranges = ["127.0.0.1/32"]
[[accepted_domain]]
domain = "contoso.test"
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", tls = "mta-sts" }
`, zone.Addr, listen))
	h := harness.Start(t, file, "hub1", listen)
	for _, to := range []string{"bob@fabrikam.test", "bob2@fabrikam.test", "carol@tailspin.test"} {
		msg := "From: alice@contoso.test\r\nTo: " + to + "\r\nSubject: mta-sts\r\n\r\nHello.\r\n"
		if err := smtp.SendMail(listen, nil, "alice@contoso.test", []string{to}, []byte(msg)); err != nil {
			t.Fatalf("sending to %s: %v\n%s", to, err, h.Log())
		}
	}
	harness.WaitFor(t, 30*time.Second, "two messages at fabrikam.test's MX", func() bool { return len(sink.messages()) == 2 })
	for i, overTLS := range sink.messages() {
		if !overTLS {
			t.Errorf("message %d did not come over TLS", i+1)
		}
	}
	mu.Lock()
	n := fetched["mta-sts.fabrikam.test"]
	mu.Unlock()
	if n != 1 {
		t.Errorf("the policy of fabrikam.test was fetched %d times for two messages, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "hub1", "mta-sts", "fabrikam.test.json")); err != nil {
		t.Errorf("the policy is not kept in the data folder: %v", err)
	}

	waiting := waitAttempted(t, file, "carol@tailspin.test")
	out, err := exec.Command(harness.Binary(t), "queue", "--config", file, "--server", "hub1", "show", waiting.ID).CombinedOutput()
	if err != nil {
		t.Fatalf("waypost queue show: %v\n%s", err, out)
	}
	show := string(out)
	if !strings.Contains(show, "last result: 4.7.5 ") || !strings.Contains(show, "none of its MX hosts (mx.tailspin.test) matches") || !strings.Contains(show, "TLS policy: mta-sts enforce\n") {
		t.Errorf("queue show does not say the policy and the reason:\n%s", show)
	}
	if len(sink.messages()) != 2 {
		t.Errorf("%d messages at the MX, want the 2 to fabrikam.test only", len(sink.messages()))
	}
}

// waitAttempted waits for the queued message of hub1 (organization file
// file) whose one recipient is addr to have been attempted, and returns
// it as `waypost queue list --messages --json` shows it.
func waitAttempted(t *testing.T, file, addr string) control.Message {
	t.Helper()
	var waiting control.Message
	harness.WaitFor(t, 20*time.Second, "the message to "+addr+" waiting after an attempt", func() bool {
		out, err := exec.Command(harness.Binary(t), "queue", "--config", file, "--server", "hub1", "list", "--messages", "--json").Output()
		if err != nil {
			return false
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var m control.Message
			if json.Unmarshal([]byte(line), &m) == nil && len(m.Recipients) == 1 && m.Recipients[0].Address == addr && m.Recipients[0].Attempts > 0 {
				waiting = m
				return true
			}
		}
		return false
	})
	return waiting
}
