package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/dkim"
)

// run runs a waypost command in-process and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(&Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

// TestREADME runs every "$ ./waypost ..." command of the README's console
// blocks and compares its output with what the README shows, so the
// walk-through stays true.
func TestREADME(t *testing.T) {
	t.Chdir("../..")
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type example struct {
		line int
		args []string
		want []string
	}
	var examples []*example
	var cur *example
	inConsole := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```console"):
			inConsole = true
		case strings.HasPrefix(line, "```"):
			inConsole, cur = false, nil
		case inConsole && strings.HasPrefix(line, "$ ./waypost "):
			cur = &example{line: n, args: splitArgs(t, strings.TrimPrefix(line, "$ ./waypost "))}
			examples = append(examples, cur)
		case inConsole && cur != nil:
			cur.want = append(cur.want, line)
		}
	}
	if len(examples) < 5 {
		t.Fatalf("found %d README examples; the parser or the README changed", len(examples))
	}
	for _, ex := range examples {
		code, out, errOut := run(t, ex.args...)
		if code != 0 {
			t.Errorf("README.md:%d: waypost %v exited %d: %s", ex.line, ex.args, code, errOut)
			continue
		}
		if got, want := strings.TrimRight(out, "\n"), strings.Join(ex.want, "\n"); got != want {
			t.Errorf("README.md:%d: waypost %v\n got: %s\nwant: %s", ex.line, ex.args, got, want)
		}
	}
}

// splitArgs splits a command line with double quotes, as a shell would for
// the README's simple examples.
func splitArgs(t *testing.T, s string) []string {
	var args []string
	var cur strings.Builder
	quoted, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, have = !quoted, true
		case r == ' ' && !quoted:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quotes in README command %q", s)
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

const example = "../../examples/contoso/contoso.toml"

func TestRouteOutputIsTheContract(t *testing.T) {
	code, out, _ := run(t, "route", "--config", example, "--server", "hub-hq",
		"alice@contoso.test", "bob@fabrikam.test", "[SMS:+1 555 0101]", "sales@contoso.test", "not an address")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("want one line per recipient, got %d:\n%s", len(lines), out)
	}
	var ds []map[string]any
	for _, l := range lines {
		var d map[string]any
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		ds = append(ds, d)
	}
	for i, want := range []string{"mailbox", "connector", "ndr", "expanded", "ndr"} {
		if ds[i]["outcome"] != want {
			t.Errorf("line %d outcome %v, want %s", i+1, ds[i]["outcome"], want)
		}
	}
	if ds[2]["status"] != "5.4.4" || ds[2]["type"] != "SMS" || ds[4]["status"] != "5.1.3" {
		t.Errorf("ndr lines: %v / %v", ds[2], ds[4])
	}
	if m, _ := ds[3]["members"].([]any); len(m) != 3 {
		t.Errorf("Sales has 3 members, got %v", ds[3]["members"])
	}
}

func TestAddrtypesOneSite(t *testing.T) {
	code, out, _ := run(t, "addrtypes", "--config", example, "--site", "branch")
	var at struct {
		Site    string
		Types   []string
		Version string
	}
	if code != 0 || json.Unmarshal([]byte(out), &at) != nil {
		t.Fatalf("exit %d: %s", code, out)
	}
	if at.Site != "Branch" || strings.Join(at.Types, ",") != "EX,FAX,SMTP,X500" || at.Version == "" {
		t.Errorf("%+v", at)
	}
}

func TestCheck(t *testing.T) {
	if code, out, errOut := run(t, "check", "--config", example); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("clean file: exit %d %s %s", code, out, errOut)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[organization]\ndefault_domain = \"x.test\"\ncolour = 1\n[[site]]\nname = \"A\"\n"), 0o644)
	code, _, errOut := run(t, "check", "--config", bad)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{bad + ":3: unknown key \"colour\"", "no [[server]]", "not an authoritative accepted domain", "3 errors"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{nil, 2, "Usage"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"route", "--config", example}, 2, "name at least one recipient"},
		{[]string{"route", "--config", example, "x@y.test"}, 2, "say which one with --server"},
		{[]string{"route", "--config", example, "--server", "nope", "x@y.test"}, 2, `no server "nope"`},
		{[]string{"route", "--config", example, "--server", "hub-hq", "--size", "big", "x@y.test"}, 2, "--size"},
		{[]string{"route", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"route", "--config", "/nonexistent.toml", "--server", "a", "x@y.test"}, 1, "cannot read the organization file"},
		{[]string{"addrtypes", "--config", example}, 2, "give either --site SITE or --all"},
		{[]string{"addrtypes", "--config", example, "--site", "Mars"}, 1, `no site "Mars"`},
		{[]string{"check"}, 2, "--config FILE is required"},
	} {
		code, _, errOut := run(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.says) {
			t.Errorf("waypost %v: exit %d, stderr %q; want exit %d saying %q", tc.args, code, errOut, tc.code, tc.says)
		}
	}
}

func TestHelp(t *testing.T) {
	for name := range commands {
		code, out, _ := run(t, name, "--help")
		if code != 0 || !strings.Contains(out, "Usage: waypost "+name) {
			t.Errorf("%s --help: exit %d: %s", name, code, out)
		}
	}
	if code, out, _ := run(t, "help"); code != 0 || !strings.Contains(out, "addrtypes") {
		t.Errorf("help: %d %s", code, out)
	}
}

func TestFlagsAfterArguments(t *testing.T) {
	code, out, errOut := run(t, "route", "bob@fabrikam.test", "--config", example, "--server", "hub-hq")
	if code != 0 || !strings.Contains(out, `"connector":"Internet"`) {
		t.Errorf("exit %d %s %s", code, out, errOut)
	}
}

func TestPasswdAndSecret(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Main(&Env{Stdin: strings.NewReader("correct horse\n"), Stdout: &out, Stderr: &errOut}, []string{"passwd"})
	if code != 0 || !strings.HasPrefix(out.String(), "$2a$") {
		t.Fatalf("passwd: %d %q %q", code, out.String(), errOut.String())
	}
	if code, _, errOut := run(t, "passwd"); code != 1 || !strings.Contains(errOut, "no password on standard input") {
		t.Errorf("passwd without input: %d %q", code, errOut)
	}
	_, a, _ := run(t, "secret")
	_, b, _ := run(t, "secret")
	if len(strings.TrimSpace(a)) != 44 || a == b {
		t.Errorf("secrets %q %q", a, b)
	}
}

func TestTrack(t *testing.T) {
	dir := t.TempDir()
	org := filepath.Join(dir, "org.toml")
	os.WriteFile(org, []byte("[organization]\ndefault_domain = \"c.test\"\n[[accepted_domain]]\ndomain = \"c.test\"\n[[site]]\nname = \"A\"\n[[server]]\nname = \"h1\"\nsite = \"A\"\ndata_dir = \"d\"\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "d"), 0o700)
	log := `{"time":"2026-11-29T09:00:00Z","event":"RECEIVE","id":"q1","sender":"bob@f.test","recipient":"SMTP:alice@c.test"}
{"time":"2026-11-29T09:00:01Z","event":"DELIVER","id":"q1","recipient":"alice@c.test","status":"2.0.0"}
not json
{"time":"2026-11-29T10:00:00Z","event":"FAIL","id":"q2","recipient":"nobody@c.test","status":"5.1.1"}
`
	os.WriteFile(filepath.Join(dir, "d", "tracking.log"), []byte(log), 0o600)
	code, out, errOut := run(t, "track", "--config", org, "--recipient", "ALICE")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(errOut, "tracking.log:3") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
	if _, out, _ := run(t, "track", "--config", org, "--event", "fail", "--since", "2026-11-29T09:30:00Z"); !strings.Contains(out, `"id":"q2"`) || strings.Contains(out, "q1") {
		t.Errorf("filtered: %s", out)
	}
	if code, _, errOut := run(t, "track", "--config", org, "--since", "yesterday"); code != 2 || !strings.Contains(errOut, "RFC 3339") {
		t.Errorf("bad --since: %d %s", code, errOut)
	}
}

// The built-in organization has somewhere to send a newcomer's first
// message to another domain: its Outbound drop folder, not the
// unreachable queue.
func TestBuiltInOrganizationRoutesOutward(t *testing.T) {
	t.Chdir(t.TempDir())
	code, out, errOut := run(t, "route", "someone@example.org")
	var d struct{ Outcome, Connector string }
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil {
		t.Fatalf("route: exit %d, %v: %s %s", code, err, out, errOut)
	}
	if d.Outcome != "connector" || d.Connector != "Outbound" {
		t.Errorf("mail to another domain in the built-in organization: %s", out)
	}
}

// waypost check reports the mail client keys ([organization] imap_host,
// [[server]] mailbox_delivery) with their lines and a fix, and passes
// good values.
func TestCheckMailClientKeys(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hub.secret"), []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"), 0o600)
	head := "[organization]\ndefault_domain = \"x.test\"\nhub_secret_file = \"hub.secret\"\n%s[[accepted_domain]]\ndomain = \"x.test\"\n[[site]]\nname = \"A\"\n"
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte(fmt.Sprintf(head, "imap_host = \"imap.x.test:993\"\n")+
		"[[server]]\nname = \"a1\"\nsite = \"A\"\nmailbox_delivery = { kind = \"lmtp\", address = \"127.0.0.1:24\" }\n"+
		"[[server]]\nname = \"a2\"\nsite = \"A\"\nmailbox_delivery = { kind = \"lmtp\", address = \"unix:/run/dovecot/lmtp\" }\n"+
		"[[server]]\nname = \"a3\"\nsite = \"A\"\nmailbox_delivery = { kind = \"maildir\" }\n"), 0o644)
	if code, out, errOut := run(t, "check", "--config", good); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("good values: exit %d %s %s", code, out, errOut)
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte(fmt.Sprintf(head, "imap_host = \"imap.x.test\"\n")+
		"[[server]]\nname = \"a1\"\nsite = \"A\"\nmailbox_delivery = { kind = \"lmtp\" }\n"+
		"[[server]]\nname = \"a2\"\nsite = \"A\"\nmailbox_delivery = { kind = \"pop3\" }\n"+
		"[[server]]\nname = \"a3\"\nsite = \"A\"\nmailbox_delivery = { kind = \"lmtp\", address = \"localhost\", port = 24 }\n"), 0o644)
	code, _, errOut := run(t, "check", "--config", bad)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		bad + `:4: imap_host: "imap.x.test" is not host:port (fix: write the IMAP server's host:port`,
		bad + `:12: server "a1": mailbox_delivery kind "lmtp" has no address (fix: add address = "127.0.0.1:24"`,
		bad + `:16: server "a2": mailbox_delivery has unknown kind "pop3" (fix: use kind = "maildir" (the default) or kind = "lmtp")`,
		bad + `:20: unknown key "port" in [server.mailbox_delivery]`,
		bad + `:20: server "a3": mailbox_delivery address: "localhost" is not host:port`,
		"5 errors",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestDKIMKeygen: keygen writes a key of mode 0600 that config accepts
// and prints a record whose key is that key's; it never overwrites.
func TestDKIMKeygen(t *testing.T) {
	out := filepath.Join(t.TempDir(), "corp.test.s2026.pem")
	code, stdout, stderr := run(t, "dkim", "keygen", "--domain", "corp.test", "--selector", "s2026", "--algorithm", "ed25519", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	k, err := dkim.LoadKey(out)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := dkim.Record("corp.test", "s2026", k)
	if strings.TrimSpace(stdout) != want || !strings.HasPrefix(want, `s2026._domainkey.corp.test. IN TXT "v=DKIM1; k=ed25519; p=`) {
		t.Errorf("printed %q, want %q", stdout, want)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	if code, _, stderr := run(t, "dkim", "keygen", "--domain", "corp.test", "--selector", "s2026", "--out", out); code != 1 || !strings.Contains(stderr, "exists") {
		t.Errorf("overwrite: exit %d, %s", code, stderr)
	}
	if code, _, stderr := run(t, "dkim", "keygen", "--domain", "corp.test", "--selector", "bad_one", "--out", out+"2"); code != 2 || !strings.Contains(stderr, "selector") {
		t.Errorf("bad selector: exit %d, %s", code, stderr)
	}
}

// TestServeDNSFlag: serve --dns takes resolvers as [[server]] dns does
// and refuses anything else as a usage error, before starting anything.
func TestServeDNSFlag(t *testing.T) {
	code, _, stderr := run(t, "serve", "--dns", "127.0.0.1:53,resolver.corp.test")
	if code != 2 || !strings.Contains(stderr, `"resolver.corp.test" is not an IP address`) {
		t.Errorf("exit %d, %s", code, stderr)
	}
}
