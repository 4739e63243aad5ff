package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/dkim"
)

func TestExampleLoads(t *testing.T) {
	org, err := Load("../../examples/contoso/contoso.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckFiles(org); err != nil {
		t.Fatal(err)
	}
	if len(org.Sites) != 2 || len(org.Servers) != 2 || len(org.SendConnectors) != 2 || len(org.Recipients) != 4 {
		t.Fatalf("unexpected shape: %d sites, %d servers, %d connectors, %d recipients", len(org.Sites), len(org.Servers), len(org.SendConnectors), len(org.Recipients))
	}
	fax := org.SendConnectors[1]
	if !fax.Scoped || fax.AddressSpaces[0].Type != "FAX" || fax.Delivery.Kind != DeliveryDrop || !filepath.IsAbs(fax.Delivery.Directory) {
		t.Errorf("Branch Fax connector read wrongly: %+v", fax)
	}
	if org.SendConnectors[0].MaxMessageSize != 10_000_000 {
		t.Errorf("10MB read as %d", org.SendConnectors[0].MaxMessageSize)
	}
	if org.Retry != DefaultRetry || org.MessageExpiration != 48*time.Hour {
		t.Errorf("retry %+v expiration %s", org.Retry, org.MessageExpiration)
	}
	if !org.IsAuthoritative("CONTOSO.test") || org.IsAuthoritative("fabrikam.test") {
		t.Error("accepted domain lookup is wrong")
	}
}

func TestDefaultOrganization(t *testing.T) {
	org := Default(t.TempDir())
	s := org.Server(DefaultServer)
	if s == nil || len(s.Receive) != 2 || s.Receive[0].Listen != "127.0.0.1:2525" || s.Receive[1].Kind != KindSubmission || s.API != "127.0.0.1:8025" {
		t.Fatalf("built-in organization differs from interfaces.md section 1: %+v", s)
	}
	if !strings.HasSuffix(s.DataDir, "waypost-data") || org.DefaultDomain != "example.test" {
		t.Errorf("data dir %s, domain %s", s.DataDir, org.DefaultDomain)
	}
}

const base = `[organization]
default_domain = "contoso.test"
[[site]]
name = "HQ"
[[accepted_domain]]
domain = "contoso.test"
[[server]]
name = "hub1"
site = "HQ"
`

// parseErrs parses text and returns its errors, failing if there are none.
func parseErrs(t *testing.T, text string) Errors {
	t.Helper()
	_, err := Parse([]byte(text), "org.toml", t.TempDir())
	if err == nil {
		t.Fatalf("no error for:\n%s", text)
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	return errs
}

// want asserts that errs has an error on line whose message contains msg
// and which carries a fix.
func want(t *testing.T, errs Errors, line int, msg string) {
	t.Helper()
	for _, e := range errs {
		if e.Line == line && strings.Contains(e.Error(), msg) {
			if e.Fix == "" && !strings.Contains(e.Msg, "write") && !strings.Contains(e.Msg, "use ") {
				t.Errorf("error %q has no fix", e)
			}
			if !strings.HasPrefix(e.Error(), "org.toml:") {
				t.Errorf("error %q does not name the file", e)
			}
			return
		}
	}
	t.Errorf("no error on line %d containing %q; got:\n%v", line, msg, errs)
}

func TestEveryErrorAtOnce(t *testing.T) {
	text := base + `fqdn = "hub1.contoso.test"
[[site]]
name = "HQ"
[[site_link]]
name = "L1"
sites = ["HQ", "Nowhere"]
cost = 5
[[server]]
name = "hub2"
site = "Mars"
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*contoso.com;1", "contoso.com;0", "X400:o=MySite;p=MyOrg;a=adatum;c=us"]
source_servers = ["hub1", "ghost"]
max_message_size = "ten megs"
delivery = { kind = "smtp", smart_hosts = ["127.0.0.1:2600"] }
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
delivery = { kind = "drop", directory = "out" }
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test"]
[[recipient]]
kind = "mailbox"
name = "Alias"
server = "hub1"
addresses = ["smtp:ALICE@contoso.test"]
`
	errs := parseErrs(t, text)
	want(t, errs, 12, `site "HQ" is defined twice`)
	want(t, errs, 15, `unknown site "Nowhere"`)
	want(t, errs, 19, `unknown site "Mars"`)
	want(t, errs, 22, `*contoso.com`)
	want(t, errs, 22, `contoso.com;0`)
	want(t, errs, 22, `o=MySite`)
	want(t, errs, 23, `unknown server "ghost"`)
	want(t, errs, 24, `ten megs`)
	want(t, errs, 27, `send connector "Internet" is defined twice`)
	want(t, errs, 40, `already an address of "Alice"`)
	want(t, errs, 1, `needs hub_secret_file`)
	for i := 1; i < len(errs); i++ {
		if errs[i].Line < errs[i-1].Line {
			t.Errorf("errors are not in file order: %v", errs)
		}
	}
}

func TestUnknownKeys(t *testing.T) {
	errs := parseErrs(t, base+`colour = "blue"
[[send_connector]]
name = "X"
adress_spaces = ["SMTP:*"]
source_servers = ["hub1"]
delivery = { kind = "drop", directory = "d", dirs = "x" }
[bogus]
a = 1
`)
	want(t, errs, 10, `unknown key "colour" in [server]`)
	want(t, errs, 13, `unknown key "adress_spaces" in [send_connector]`)
	want(t, errs, 15, `unknown key "dirs" in [send_connector.delivery]`)
	want(t, errs, 16, `unknown key "bogus"`)
	for _, e := range errs {
		if strings.Contains(e.Msg, "adress_spaces") && !strings.Contains(e.Fix, "address_spaces") {
			t.Errorf("fix for a misspelt key should list the valid keys: %q", e.Fix)
		}
	}
}

func TestScopedConnectorSpanningSites(t *testing.T) {
	errs := parseErrs(t, `[organization]
default_domain = "c.test"
hub_secret_file = "s"
[[accepted_domain]]
domain = "c.test"
[[site]]
name = "A"
[[site]]
name = "B"
[[server]]
name = "a1"
site = "A"
[[server]]
name = "b1"
site = "B"
[[send_connector]]
name = "Fax"
address_spaces = ["FAX:*;1"]
source_servers = ["a1", "b1"]
scoped = true
delivery = { kind = "drop", directory = "fax" }
`)
	want(t, errs, 19, "scoped but its source servers are in 2 sites")
}

func TestBadValues(t *testing.T) {
	errs := parseErrs(t, `[organization]
default_domain = "c.test"
message_expiration = "2 days"
retry = { glitch_count = 99, glitch_interval = "1m" }
[[accepted_domain]]
domain = "c.test"
type = "sideways"
[[site]]
name = "A"
[[site_link]]
name = "Loop"
sites = ["A"]
cost = 0
[[server]]
name = "a1"
site = "A"
  [[server.receive]]
  name = "In"
  listen = "localhost"
  kind = "lmtp"
  remote_ranges = ["10.0.0.0/33"]
  max_message_size = -5
[[send_connector]]
name = "Pipe"
address_spaces = ["SMS:*"]
source_servers = ["a1"]
delivery = { kind = "pipe" }
[[recipient]]
kind = "contact"
name = "Nobody"
addresses = ["SMTP:nobody@c.test"]
[[recipient]]
kind = "robot"
name = "R2"
addresses = ["SMTP:r2@c.test"]
`)
	want(t, errs, 3, `"2 days" is not a duration`)
	want(t, errs, 4, "glitch_count 99")
	want(t, errs, 7, `unknown type "sideways"`)
	want(t, errs, 12, "joins 1 sites")
	want(t, errs, 13, "cost 0")
	want(t, errs, 19, `"localhost" is not host:port`)
	want(t, errs, 20, `unknown kind "lmtp"`)
	want(t, errs, 21, "10.0.0.0/33")
	want(t, errs, 22, "negative")
	want(t, errs, 27, "runs a program but names none")
	want(t, errs, 28, "has no target")
	want(t, errs, 33, `unknown kind "robot"`)
}

func TestSyntaxError(t *testing.T) {
	errs := parseErrs(t, "[organization]\nname = \"unterminated\n")
	if errs[0].Line != 2 {
		t.Errorf("syntax error on line %d, want 2: %v", errs[0].Line, errs[0])
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]int64{"10MB": 10_000_000, "35MiB": 35 << 20, "1048576": 1048576, "unlimited": 0, "1.5KB": 1500, "64k": 64000} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1", "1e400", "ten", "0.5b", "NaN"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "org.toml")
	text := `[organization]
default_domain = "c.test"
hub_secret_file = "missing.secret"
[[accepted_domain]]
domain = "c.test"
[[site]]
name = "A"
[[server]]
name = "a1"
site = "A"
  [[server.receive]]
  name = "In"
  listen = "127.0.0.1:2525"
  tls = { cert = "nope.pem", key = "nope.key" }
[[server]]
name = "a2"
site = "A"
`
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	org, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	err = CheckFiles(org)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("want 2 file errors, got %v", err)
	}
	if errs[0].Line != 3 || !strings.Contains(errs[0].Fix, "waypost secret") {
		t.Errorf("hub secret error: %v", errs[0])
	}
	if errs[1].Line != 14 {
		t.Errorf("certificate error on line %d: %v", errs[1].Line, errs[1])
	}
}

// A file with several values of the wrong kind gets every one of them
// reported at once, each in the file's own terms (never a Go type name).
func TestEveryTypeErrorAtOnce(t *testing.T) {
	errs := parseErrs(t, `[organization]
default_domain = 5
message_expiration = true
[[site]]
name = 7
[[server]]
name = "hub1"
site = "HQ"
  [[server.receive]]
  name = "In"
  listen = "127.0.0.1:25"
  relay_ranges = "127.0.0.0/8"
  max_recipients = "many"
`)
	want(t, errs, 2, `default_domain is a whole number here; it must be text in quotes`)
	want(t, errs, 3, `message_expiration is true or false here`)
	want(t, errs, 5, `name is a whole number here`)
	want(t, errs, 12, `relay_ranges is text here; it must be a list of texts in quotes`)
	want(t, errs, 13, `max_recipients is text here; it must be a whole number`)
	for _, e := range errs {
		if strings.Contains(e.Error(), "int64") || strings.Contains(e.Error(), "struct field") || strings.Contains(e.Error(), "rawOrganization") {
			t.Errorf("error names a Go type: %v", e)
		}
	}
}

// A UTF-8 byte-order mark, which Windows editors write, is not an error.
func TestByteOrderMark(t *testing.T) {
	if _, err := Parse(append([]byte("\xef\xbb\xbf"), base...), "org.toml", t.TempDir()); err != nil {
		t.Fatalf("a file starting with a byte-order mark is refused: %v", err)
	}
}

// TestDNSResolvers: dns lists IP addresses, port 53 when none is given;
// a host name or a bad port is an error on its line.
func TestDNSResolvers(t *testing.T) {
	org, err := Parse([]byte(base+`dns = ["127.0.0.1:5353", "::1", "10.0.0.1"]`+"\n"), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := org.Server("hub1").DNS; strings.Join(got, " ") != "127.0.0.1:5353 [::1]:53 10.0.0.1:53" {
		t.Errorf("dns read as %q", got)
	}
	errs := parseErrs(t, base+"dns = [\"127.0.0.1:5353\",\n  \"ns1.contoso.test\",\n  \"127.0.0.1:99999\"]\n")
	want(t, errs, 11, `"ns1.contoso.test" is not an IP address`)
	want(t, errs, 12, `"127.0.0.1:99999" is not an IP address`)
}

// TestDKIMKeys: dkim is one table or a list (rotation); key files are
// relative to the organization file; waypost check (CheckFiles) names
// the line of an unreadable key, a weak RSA key and a bad selector.
func TestDKIMKeys(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "dkim"), 0o700)
	for _, n := range []string{"a", "b"} {
		k, err := dkim.Generate("ed25519")
		if err != nil {
			t.Fatal(err)
		}
		if err := dkim.WriteKey(filepath.Join(dir, "dkim", n+".pem"), k); err != nil {
			t.Fatal(err)
		}
	}
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	harnessWrite(t, filepath.Join(dir, "dkim", "weak.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(weak)})))
	good := base + `[[accepted_domain]]
domain = "corp.test"
dkim = { selector = "s2026", key_file = "dkim/a.pem" }
[[accepted_domain]]
domain = "fabrikam.test"
dkim = [{ selector = "old", key_file = "dkim/a.pem" }, { selector = "new", key_file = "dkim/b.pem" }]
`
	path := filepath.Join(dir, "org.toml")
	harnessWrite(t, path, good)
	org, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckFiles(org); err != nil {
		t.Fatal(err)
	}
	keys, err := DKIMKeys(org)
	if err != nil || len(keys) != 3 || keys[0].Domain != "corp.test" || keys[2].Selector != "new" {
		t.Fatalf("keys %+v, %v", keys, err)
	}
	if k := org.AcceptedDomain("fabrikam.test").DKIM[1]; k.KeyFile != filepath.Join(dir, "dkim", "b.pem") {
		t.Errorf("key file read as %s", k.KeyFile)
	}

	errs := parseErrs(t, base+`[[accepted_domain]]
domain = "corp.test"
dkim = { selector = "s_1", key_file = "dkim/a.pem" }
[[accepted_domain]]
domain = "b.test"
dkim = { selector = "s1" }
[[accepted_domain]]
domain = "d.test"
dkim = "s1"
`)
	want(t, errs, 12, `selector "s_1" has '_'`)
	want(t, errs, 15, `dkim of b.test has no key_file`)
	want(t, errs, 18, `dkim of d.test is a string`)

	harnessWrite(t, path, base+`[[accepted_domain]]
domain = "corp.test"
dkim = { selector = "s1", key_file = "dkim/missing.pem" }
[[accepted_domain]]
domain = "b.test"
dkim = [{ selector = "s1", key_file = "dkim/a.pem" },
  { selector = "s2", key_file = "dkim/weak.pem" }]
`)
	if org, err = Load(path); err != nil {
		t.Fatal(err)
	}
	err = CheckFiles(org)
	var ferrs Errors
	if !errors.As(err, &ferrs) || len(ferrs) != 2 {
		t.Fatalf("want 2 file errors, got %v", err)
	}
	if ferrs[0].Line != 12 || !strings.Contains(ferrs[0].Msg, "missing.pem") || !strings.Contains(ferrs[0].Fix, "waypost dkim keygen --domain corp.test --selector s1") {
		t.Errorf("missing key: %v", ferrs[0])
	}
	if ferrs[1].Line != 16 || !strings.Contains(ferrs[1].Msg, "1024 bits") {
		t.Errorf("weak key: %v", ferrs[1])
	}
}

func harnessWrite(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSenderAuth: sender_auth defaults to tag on kind smtp and off on
// submission; enforce and off are taken; anything else is an error on
// its line.
func TestSenderAuth(t *testing.T) {
	org, err := Parse([]byte(base+`  [[server.receive]]
  name = "Internet"
  listen = "127.0.0.1:25"
  [[server.receive]]
  name = "Submission"
  listen = "127.0.0.1:587"
  kind = "submission"
  [[server.receive]]
  name = "Strict"
  listen = "127.0.0.1:26"
  sender_auth = "enforce"
`), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rc := range org.Server("hub1").Receive {
		got = append(got, rc.Name+"="+rc.SenderAuth)
	}
	if strings.Join(got, " ") != "Internet=tag Submission=off Strict=enforce" {
		t.Errorf("sender_auth read as %q", got)
	}
	errs := parseErrs(t, base+"  [[server.receive]]\n  name = \"In\"\n  listen = \"127.0.0.1:25\"\n  sender_auth = \"reject\"\n")
	want(t, errs, 13, `unknown sender_auth "reject"`)
}
