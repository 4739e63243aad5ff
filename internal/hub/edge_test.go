package hub

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/dkim"
	"github.com/waypost/waypost/internal/dnstest"
)

// mxSink is an SMTP server on loopback that keeps what it receives.
type mxSink struct {
	port string
	mu   sync.Mutex
	got  []string
}

type mxSession struct{ s *mxSink }

func (mxSession) Reset()                                 {}
func (mxSession) Logout() error                          { return nil }
func (mxSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (mxSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (ss mxSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	ss.s.mu.Lock()
	ss.s.got = append(ss.s.got, string(b))
	ss.s.mu.Unlock()
	return err
}

func startMXSink(t *testing.T) *mxSink {
	t.Helper()
	s := &mxSink{}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return mxSession{s}, nil }))
	srv.Domain = "mx.fabrikam.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, s.port, _ = net.SplitHostPort(ln.Addr().String())
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

const edgeOrg = `
[organization]
default_domain = "corp.test"
[[accepted_domain]]
domain = "corp.test"
dkim = { selector = "s2026", key_file = "dkim/corp.test.s2026.pem" }
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
data_dir = "data"
dns = ["@DNS@"]
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", tls = "none" }
`

// TestEdgeDNSAndDKIM: the send connector of kind smtp finds the
// exchanger of the recipient's domain through the server's dns resolver
// (a private DNS server, not resolv.conf), and the message it delivers
// carries a DKIM signature of the From domain that verifies against the
// key record that server publishes.
func TestEdgeDNSAndDKIM(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "dkim"), 0o700)
	k, err := dkim.Generate("rsa")
	if err != nil {
		t.Fatal(err)
	}
	if err := dkim.WriteKey(filepath.Join(dir, "dkim", "corp.test.s2026.pem"), k); err != nil {
		t.Fatal(err)
	}
	rec, err := dkim.Record("corp.test", "s2026", k)
	if err != nil {
		t.Fatal(err)
	}
	z := dnstest.Start(t, "fabrikam.test. 60 IN MX 10 mx.fabrikam.test.", "mx.fabrikam.test. 60 IN A 127.0.0.1",
		strings.Replace(rec, " IN TXT ", " 60 IN TXT ", 1))
	sink := startMXSink(t)
	file := filepath.Join(dir, "org.toml")
	write(t, file, strings.Replace(edgeOrg, "@DNS@", z.Addr, 1))
	org, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(org, "hub1", slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	agent, ok := h.connector("Internet").(*delivery.SMTP)
	if !ok {
		t.Fatal("the Internet connector has no SMTP agent")
	}
	agent.Port = sink.port // the exchanger's port 25, here the sink's
	body := "From: Alice <alice@corp.test>\r\nTo: <carol@fabrikam.test>\r\nSubject: hello\r\n\r\nHello Carol.\r\n"
	m := &delivery.Message{ID: "m1", From: "alice@corp.test", Recipients: []delivery.Recipient{{Type: "SMTP", Address: "carol@fabrikam.test"}},
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if res := agent.Deliver(ctx, m); res[0].Class != delivery.Relayed {
		t.Fatalf("%+v", res[0])
	}
	if !z.Asked("fabrikam.test. MX") {
		t.Error("the MX lookup did not go to the server's dns")
	}
	sink.mu.Lock()
	got := sink.got
	sink.mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("the exchanger got %d messages", len(got))
	}
	vs, err := msgdkim.VerifyWithOptions(strings.NewReader(got[0]), &msgdkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return h.resolver.LookupTXT(ctx, name+".") },
	})
	if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "corp.test" {
		t.Fatalf("verification %v %+v\n%s", err, vs, got[0])
	}
}
