package test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/smtp"
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

	var waiting control.Message
	harness.WaitFor(t, 20*time.Second, "the message to tailspin.test waiting after an attempt", func() bool {
		out, err := exec.Command(harness.Binary(t), "queue", "--config", file, "--server", "hub1", "list", "--messages", "--json").Output()
		if err != nil {
			return false
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var m control.Message
			if json.Unmarshal([]byte(line), &m) == nil && len(m.Recipients) == 1 && m.Recipients[0].Address == "carol@tailspin.test" && m.Recipients[0].Attempts > 0 {
				waiting = m
				return true
			}
		}
		return false
	})
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
