package test

import (
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/dnstest"
	"github.com/waypost/waypost/internal/hub"
	"github.com/waypost/waypost/test/harness"
)

// pyVerify verifies every DKIM signature of a message with Python's dkim
// package (python3-dkim), looking the keys up in records ("name" ->
// TXT value) instead of DNS; it prints one "d s ok" line per signature.
const pyVerify = `
import sys, dkim
records = dict(l.split(" ", 1) for l in sys.argv[1:])
def dns(name, timeout=5):
    return records.get(name.decode().rstrip("."), "").encode()
msg = sys.stdin.buffer.read()
d = dkim.DKIM(msg)
sigs = [v for k, v in dkim.rfc822_parse(msg)[0] if k.lower() == b"dkim-signature"]
for i, s in enumerate(sigs):
    tags = dkim.util.parse_tag_value(s)
    ok = d.verify(idx=i, dnsfunc=dns)
    print(tags[b"d"].decode(), tags[b"s"].decode(), "ok" if ok else "FAIL")
`

// keygen runs "waypost dkim keygen" and returns the record it printed:
// its name and its TXT value.
func keygen(t *testing.T, domain, selector, alg, out string) (name, value string) {
	t.Helper()
	cmd := exec.Command(harness.Binary(t), "dkim", "keygen", "--domain", domain, "--selector", selector, "--algorithm", alg, "--out", out)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, stderr.String())
	}
	// An RSA key's value is over 255 bytes: it comes as several strings,
	// one TXT value (RFC 6376 section 3.6.2.2).
	m := regexp.MustCompile(`^(\S+)\. IN TXT ((?:"[^"]+" ?)+)\n$`).FindStringSubmatch(string(stdout))
	if m == nil {
		t.Fatalf("keygen printed %q, want one TXT record", stdout)
	}
	for _, part := range regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(m[2], -1) {
		value += part[1]
	}
	return m[1], value
}

// pythonWithDKIM is a python3 that imports dkim: the first in PATH, or
// Debian's /usr/bin/python3, where python3-dkim installs it.
func pythonWithDKIM(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		py, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		out, err := exec.Command(py, "-c", "import dkim").CombinedOutput()
		if err == nil {
			return py
		}
		tried = append(tried, fmt.Sprintf("%s: %v %s", py, err, out))
	}
	t.Fatalf("no python3 with the dkim package (scripts/test.sh installs python3-dkim):\n%s", strings.Join(tried, "\n"))
	return ""
}

// TestInternetEdge, through the real binary: mail from the organization
// that leaves through a send connector of kind smtp carries a DKIM
// signature per key of the From domain (an RSA key and an Ed25519 key
// made by "waypost dkim keygen", side by side as in a rotation), and
// python3-dkim verifies each against the record keygen printed; mail
// from an outside domain with DMARC p=reject that fails SPF, checked
// through the server's own DNS server, is refused with 550 5.7.1 on a
// connector in enforce mode and delivered with an Authentication-Results
// field saying dmarc=fail on one in tag mode.
func TestInternetEdge(t *testing.T) {
	py := pythonWithDKIM(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "dkim"), 0o700)
	rsaName, rsaValue := keygen(t, "contoso.test", "s2026", "rsa", filepath.Join(dir, "dkim", "contoso.test.s2026.pem"))
	edName, edValue := keygen(t, "contoso.test", "e2026", "ed25519", filepath.Join(dir, "dkim", "contoso.test.e2026.pem"))

	zone := dnstest.Start(t,
		`fabrikam.test. 60 IN TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`_dmarc.fabrikam.test. 60 IN TXT "v=DMARC1; p=reject"`)
	sink := &sink{}
	srv := gosmtp.NewServer(sink)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	hash, err := hub.HashPassword("alice's password")
	if err != nil {
		t.Fatal(err)
	}
	enforce, tag, submission := harness.Port(t), harness.Port(t), harness.Port(t)
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
  name = "Enforce"
  listen = %q
  kind = "smtp"
  sender_auth = "enforce"
  [[server.receive]]
  name = "Tag"
  listen = %q
  kind = "smtp"
  [[server.receive]]
  name = "Clients"
  listen = %q
  kind = "submission"
[[accepted_domain]]
domain = "contoso.test"
dkim = [{ selector = "s2026", key_file = "dkim/contoso.test.s2026.pem" },
        { selector = "e2026", key_file = "dkim/contoso.test.e2026.pem" }]
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", smart_hosts = [%q] }
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test"]
password_hash = %q
`, zone.Addr, enforce, tag, submission, ln.Addr().String(), hash))
	h := harness.Start(t, file, "hub1", enforce, tag, submission)

	// Outbound: signed by both keys, verified by python3-dkim.
	msg := "From: Alice <alice@contoso.test>\r\nTo: <carol@example.org>\r\nSubject: signed\r\n" +
		"Date: Sat, 05 Dec 2026 10:00:00 +0000\r\nMessage-ID: <edge1@contoso.test>\r\n\r\nHello Carol,\r\n  with  spaces   kept.\r\n"
	auth := smtp.PlainAuth("", "alice@contoso.test", "alice's password", "127.0.0.1")
	if err := smtp.SendMail(submission, auth, "alice@contoso.test", []string{"carol@example.org"}, []byte(msg)); err != nil {
		t.Fatalf("submission: %v\n%s", err, h.Log())
	}
	harness.WaitFor(t, 20*time.Second, "the message at the outside sink", func() bool { return sink.count() == 1 })
	sink.mu.Lock()
	got := sink.data[0]
	sink.mu.Unlock()
	cmd := exec.Command(py, "-c", pyVerify, rsaName+" "+rsaValue, edName+" "+edValue)
	cmd.Stdin = strings.NewReader(got)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3-dkim: %v\n%s", err, out)
	}
	lines := strings.Fields(strings.TrimSpace(string(out)))
	if strings.Join(lines, " ") != "contoso.test s2026 ok contoso.test e2026 ok" && strings.Join(lines, " ") != "contoso.test e2026 ok contoso.test s2026 ok" {
		t.Fatalf("python3-dkim says %q of\n%s", out, got)
	}
	if n := strings.Count(got, "DKIM-Signature:"); n != 2 {
		t.Errorf("%d signatures, want 2 (one per key)", n)
	}

	// Inbound from a p=reject domain failing SPF.
	inbound := "From: Bob <bob@fabrikam.test>\r\nTo: alice@contoso.test\r\nSubject: spoofed\r\n\r\nHi.\r\n"
	err = smtp.SendMail(enforce, nil, "bob@fabrikam.test", []string{"alice@contoso.test"}, []byte(inbound))
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != 550 || !strings.HasPrefix(te.Msg, "5.7.1 ") || !strings.Contains(te.Msg, "DMARC") {
		t.Fatalf("enforce: %v, want 550 5.7.1 naming DMARC", err)
	}
	if err := smtp.SendMail(tag, nil, "bob@fabrikam.test", []string{"alice@contoso.test"}, []byte(inbound)); err != nil {
		t.Fatalf("tag: %v", err)
	}
	data := filepath.Join(dir, "data", "hub1")
	harness.WaitFor(t, 20*time.Second, "the tagged message in alice's Maildir", func() bool { return len(harness.Maildir(t, data, delivery.Folder("alice@contoso.test"))) == 1 })
	box := harness.Maildir(t, data, delivery.Folder("alice@contoso.test"))[0]
	if !strings.Contains(box, "Authentication-Results: hub1.contoso.test;\r\n\tspf=fail smtp.mailfrom=fabrikam.test;\r\n\tdkim=none;\r\n\tdmarc=fail header.from=fabrikam.test\r\n") {
		t.Errorf("the delivered message has no Authentication-Results saying the failure:\n%s", box)
	}
	if !zone.Asked("_dmarc.fabrikam.test. TXT") {
		t.Error("the hub did not ask its own DNS server")
	}
}

// withoutAuthResults is a queued or delivered message without the
// Authentication-Results field that a receive connector of kind smtp
// puts first (sender_auth tag, the default).
func withoutAuthResults(s string) string {
	if !strings.HasPrefix(s, "Authentication-Results: ") {
		return s
	}
	i := strings.Index(s, "\r\n")
	for i >= 0 && i+2 < len(s) && (s[i+2] == '\t' || s[i+2] == ' ') {
		j := strings.Index(s[i+2:], "\r\n")
		if j < 0 {
			return s
		}
		i += 2 + j
	}
	return s[i+2:]
}

// TestServeDNSFlag: `waypost serve --dns` (which the harness uses to keep
// every hub off the system's resolvers) reaches the sender checks of the
// receive connectors as well as the SMTP agents: with no dns in the file,
// a message from a domain whose SPF record names this address passes.
func TestServeDNSFlag(t *testing.T) {
	zone := dnstest.Start(t, `fabrikam.test. 60 IN TXT "v=spf1 ip4:127.0.0.1 -all"`)
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
  [[server.receive]]
  name = "Internet"
  listen = %q
[[accepted_domain]]
domain = "contoso.test"
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test"]
`, listen))
	harness.StartFlags(t, file, "hub1", []string{"--dns", zone.Addr}, listen)
	msg := "From: Bob <bob@fabrikam.test>\r\nTo: alice@contoso.test\r\nSubject: hello\r\n\r\nHi.\r\n"
	if err := smtp.SendMail(listen, nil, "bob@fabrikam.test", []string{"alice@contoso.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data", "hub1")
	harness.WaitFor(t, 20*time.Second, "the message in alice's Maildir", func() bool { return len(harness.Maildir(t, data, delivery.Folder("alice@contoso.test"))) == 1 })
	if box := harness.Maildir(t, data, delivery.Folder("alice@contoso.test"))[0]; !strings.Contains(box, "spf=pass smtp.mailfrom=fabrikam.test") {
		t.Errorf("SPF was not checked against the --dns server:\n%s", box)
	}
}
