package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/waypost/waypost/internal/dane"
	"github.com/waypost/waypost/internal/dnstest"
	"github.com/waypost/waypost/internal/mtasts"
	"github.com/waypost/waypost/internal/status"
	"github.com/waypost/waypost/internal/testcert"
)

// startTLSTestServer is startTestServer offering STARTTLS with cert
// (nil: no STARTTLS).
func startTLSTestServer(t *testing.T, cert *testcert.Cert) *testServer {
	t.Helper()
	ts := &testServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &testSession{ts: ts}, nil }))
	srv.Domain = "mx.test"
	if cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	_, ts.port, _ = net.SplitHostPort(ts.addr)
	go srv.Serve(&countingListener{Listener: ln, ts: ts})
	t.Cleanup(func() { srv.Close() })
	return ts
}

// daneCase delivers one message to bob@<domain>, whose MX is mx.<domain>
// on ts, through an agent in tls = "dane" mode asking zone.
func daneDeliver(t *testing.T, zone *dnstest.Zone, trusted bool, ts *testServer, domain string) Result {
	t.Helper()
	a := &SMTP{Helo: "hub1.contoso.test", TLS: "dane", Timeout: 5 * time.Second, Port: ts.port, Resolver: zone.Resolver(),
		DANE: &dane.Resolver{Servers: []string{zone.Addr}, Trusted: trusted, Timeout: 2 * time.Second}}
	return a.Deliver(context.Background(), message("Subject: x\r\n\r\nhi\r\n", smtpTo("bob@"+domain)))[0]
}

// DANE (RFC 7672) on loopback, with the private DNS server as the
// validating resolver: a DANE-EE record that matches delivers (whatever
// the certificate's name), one that does not makes the mail wait with
// 4.7.5, as does a server that offers no STARTTLS or a bogus TLSA answer;
// no TLSA record, or a resolver not declared validating, is opportunistic.
func TestDANE(t *testing.T) {
	good := testcert.New(t, "not-the-mx-name.example")
	other := testcert.New(t, "mx.example")
	zone := dnstest.Start(t)
	zone.Secure("signed.test")
	serve := func(domain string, cert *testcert.Cert, tlsa ...string) *testServer {
		ts := startTLSTestServer(t, cert)
		zone.Add(t, domain+". 60 IN MX 10 mx."+domain+".")
		zone.Add(t, "mx."+domain+". 60 IN A 127.0.0.1")
		for _, r := range tlsa {
			zone.Add(t, "_"+ts.port+"._tcp.mx."+domain+". 60 IN TLSA "+r)
		}
		return ts
	}
	ee := func(c *testcert.Cert) string { return "3 1 1 " + dane.Record(c.TLS.Leaf, 1, 1) }

	match := serve("match.signed.test", good, ee(other), ee(good))
	if r := daneDeliver(t, zone, true, match, "match.signed.test"); r.Class != Relayed || r.TLS != "dane" {
		t.Errorf("DANE-EE match: %+v", r)
	}
	if len(match.messages()) != 1 {
		t.Errorf("%d messages at the matching server", len(match.messages()))
	}

	mismatch := serve("mismatch.signed.test", good, ee(other))
	r := daneDeliver(t, zone, true, mismatch, "mismatch.signed.test")
	if r.Class != Retry || r.Status != status.CryptoTransient || r.TLS != "dane" || !strings.Contains(r.Text, "no TLSA record matches") {
		t.Errorf("DANE-EE mismatch: %+v", r)
	}
	if n := len(mismatch.messages()); n != 0 {
		t.Errorf("the mismatching server got %d messages", n)
	}

	clear := serve("clear.signed.test", nil, ee(good))
	if r := daneDeliver(t, zone, true, clear, "clear.signed.test"); r.Status != status.CryptoTransient || !strings.Contains(r.Text, "does not offer STARTTLS") {
		t.Errorf("TLSA records and no STARTTLS: %+v", r)
	}

	none := serve("none.signed.test", good)
	if r := daneDeliver(t, zone, true, none, "none.signed.test"); r.Class != Relayed || !strings.HasPrefix(r.TLS, "opportunistic: no TLSA records") {
		t.Errorf("no TLSA: %+v", r)
	}

	// The same mismatching records through a resolver not declared
	// validating: its AD bit means nothing, so no DANE.
	if r := daneDeliver(t, zone, false, mismatch, "mismatch.signed.test"); r.Class != Relayed || !strings.Contains(r.TLS, "dns_trusted") {
		t.Errorf("untrusted resolver: %+v", r)
	}

	bogus := serve("bogus.signed.test", good)
	zone.Bogus("_" + bogus.port + "._tcp.mx.bogus.signed.test")
	if r := daneDeliver(t, zone, true, bogus, "bogus.signed.test"); r.Class != Retry || r.Status != status.CryptoTransient || !strings.Contains(r.Text, "SERVFAIL") {
		t.Errorf("bogus TLSA: %+v", r)
	}
	if n := len(bogus.messages()); n != 0 {
		t.Errorf("delivered in spite of a bogus TLSA answer: %d", n)
	}

	// DANE-TA: the CA of the chain, and the MX name in the certificate.
	ca := testcert.NewCA(t)
	ta := serve("ta.signed.test", ca.Issue(t, "mx.ta.signed.test"), "2 0 1 "+dane.Record(ca.Cert, 0, 1))
	if r := daneDeliver(t, zone, true, ta, "ta.signed.test"); r.Class != Relayed || r.TLS != "dane" {
		t.Errorf("DANE-TA: %+v", r)
	}
	taName := serve("taname.signed.test", ca.Issue(t, "mx.elsewhere.test"), "2 0 1 "+dane.Record(ca.Cert, 0, 1))
	if r := daneDeliver(t, zone, true, taName, "taname.signed.test"); r.Status != status.CryptoTransient {
		t.Errorf("DANE-TA with another name: %+v", r)
	}
}

// stsServer serves the MTA-STS policy of a domain over HTTPS on
// loopback, counting requests.
type stsServer struct {
	port string
	mu   sync.Mutex
	n    int
}

func startSTSServer(t *testing.T, ca *testcert.CA, domain, policy string) *stsServer {
	t.Helper()
	s := &stsServer{}
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.n++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(policy))
	}))
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "mta-sts."+domain).TLS}}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	_, s.port, _ = net.SplitHostPort(hs.Listener.Addr().String())
	return s
}

func (s *stsServer) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// MTA-STS (RFC 8461) on loopback: in enforce mode an MX that the policy
// does not list, or whose certificate is not valid for its name, makes
// the mail wait with 4.7.5; a listed MX with a valid certificate takes
// it; the policy is fetched once for several messages; in testing mode
// the mail goes, and the failure is logged.
func TestMTASTS(t *testing.T) {
	ca := testcert.NewCA(t)
	zone := dnstest.Start(t)
	var logged bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logged, mu: &logMu}, nil))
	deliver := func(domain string, ts *testServer, sts *stsServer) Result {
		a := &SMTP{Helo: "hub1.contoso.test", TLS: "mta-sts", Timeout: 5 * time.Second, Port: ts.port, Resolver: zone.Resolver(),
			TLSConfig: &tls.Config{RootCAs: ca.Pool}, Log: log,
			MTASTS: &mtasts.Cache{Resolver: zone.Resolver(), Port: sts.port, RootCAs: ca.Pool, Dir: t.TempDir()}}
		return a.Deliver(context.Background(), message("Subject: x\r\n\r\nhi\r\n", smtpTo("bob@"+domain)))[0]
	}
	domain := func(d, mode, mx string, cert *testcert.Cert) (*testServer, *stsServer) {
		ts := startTLSTestServer(t, cert)
		sts := startSTSServer(t, ca, d, "version: STSv1\r\nmode: "+mode+"\r\nmx: "+mx+"\r\nmax_age: 86400\r\n")
		zone.Add(t, d+". 60 IN MX 10 mx."+d+".")
		zone.Add(t, "mx."+d+". 60 IN A 127.0.0.1")
		zone.Add(t, "mta-sts."+d+". 60 IN A 127.0.0.1")
		zone.Add(t, "_mta-sts."+d+`. 60 IN TXT "v=STSv1; id=20261205"`)
		return ts, sts
	}

	ts, sts := domain("other.test", "enforce", "mail.other.test", ca.Issue(t, "mx.other.test"))
	r := deliver("other.test", ts, sts)
	if r.Class != Retry || r.Status != status.CryptoTransient || r.TLS != "mta-sts enforce" || !strings.Contains(r.Text, "none of its MX hosts (mx.other.test) matches") {
		t.Errorf("enforce, MX not in the policy: %+v", r)
	}
	if _, _, n := ts.counts(); n != 0 {
		t.Errorf("the MX outside the policy got %d messages", n)
	}

	ts, sts = domain("good.test", "enforce", "*.good.test", ca.Issue(t, "mx.good.test"))
	a := &SMTP{Helo: "hub1.contoso.test", TLS: "mta-sts", Timeout: 5 * time.Second, Port: ts.port, Resolver: zone.Resolver(),
		TLSConfig: &tls.Config{RootCAs: ca.Pool},
		MTASTS:    &mtasts.Cache{Resolver: zone.Resolver(), Port: sts.port, RootCAs: ca.Pool}}
	for i := range 2 {
		r := a.Deliver(context.Background(), message("Subject: x\r\n\r\nhi\r\n", smtpTo("bob@good.test")))[0]
		if r.Class != Relayed || r.TLS != "mta-sts enforce" {
			t.Errorf("enforce, message %d to a matching MX with a valid certificate: %+v", i+1, r)
		}
	}
	if _, _, n := ts.counts(); n != 2 || sts.requests() != 1 {
		t.Errorf("%d messages delivered, policy asked %d times (want 2, 1: cached)", n, sts.requests())
	}

	ts, sts = domain("badcert.test", "enforce", "mx.badcert.test", ca.Issue(t, "www.badcert.test"))
	if r := deliver("badcert.test", ts, sts); r.Status != status.CryptoTransient || !strings.Contains(r.Text, "STARTTLS") {
		t.Errorf("enforce, certificate for another name: %+v", r)
	}

	ts, sts = domain("trial.test", "testing", "mail.trial.test", testcert.New(t, "self-signed.trial.test"))
	if r := deliver("trial.test", ts, sts); r.Class != Relayed || r.TLS != "mta-sts testing" {
		t.Errorf("testing mode: %+v", r)
	}
	logMu.Lock()
	text := logged.String()
	logMu.Unlock()
	if !strings.Contains(text, "enforce mode would skip") || !strings.Contains(text, "would fail in enforce mode") {
		t.Errorf("testing mode logged no failure:\n%s", text)
	}

	// No policy at all: opportunistic.
	plain := startTLSTestServer(t, nil)
	zone.Add(t, "plain.test. 60 IN MX 10 mx.plain.test.")
	zone.Add(t, "mx.plain.test. 60 IN A 127.0.0.1")
	if r := deliver("plain.test", plain, sts); r.Class != Relayed || !strings.HasPrefix(r.TLS, "opportunistic") {
		t.Errorf("no policy: %+v", r)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
