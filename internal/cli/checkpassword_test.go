package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// cpOrg writes an organization with mailboxes alice (password "alice pw",
// proxy a.smith@) on hub1 and bob on hub2, and returns its path.
func cpOrg(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("alice pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	org := `[organization]
default_domain = "contoso.test"
hub_secret_file = "hub.secret"
[[accepted_domain]]
domain = "contoso.test"
type = "authoritative"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
[[server]]
name = "hub2"
site = "HQ"
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:Alice@contoso.test", "smtp:a.smith@contoso.test"]
password_hash = "` + string(hash) + `"
[[recipient]]
kind = "mailbox"
name = "Bob"
server = "hub2"
addresses = ["SMTP:bob@contoso.test"]
password_hash = "` + string(hash) + `"
`
	path := filepath.Join(dir, "org.toml")
	if err := os.WriteFile(path, []byte(org), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hub.secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func cpRun(t *testing.T, org, server, input string, vars map[string]string) (int, []string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
	code, res := checkpassword(env, &orgFlags{config: org, server: server}, []byte(input), func(k string) string { return vars[k] })
	return code, res, errOut.String()
}

// A proxy address logs in with the Waypost password, and the result names
// the canonical user and the mailbox's folder; a wrong password is 1.
func TestCheckpasswordLogin(t *testing.T) {
	org := cpOrg(t)
	code, vars, errOut := cpRun(t, org, "hub1", "a.smith@contoso.test\x00alice pw\x00123\x00", nil)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	home := filepath.Join(filepath.Dir(org), "data", "hub1", "mailboxes", "alice@contoso.test")
	if strings.Join(vars, "|") != "USER=alice@contoso.test|HOME="+home {
		t.Errorf("vars %q", vars)
	}
	if code, _, errOut := cpRun(t, org, "hub1", "alice@contoso.test\x00wrong\x00", nil); code != cpBadPassword || !strings.Contains(errOut, "alice@contoso.test") {
		t.Errorf("wrong password: exit %d, %s", code, errOut)
	}
	if code, _, _ := cpRun(t, org, "hub1", "nobody@contoso.test\x00alice pw\x00", nil); code != cpBadPassword {
		t.Errorf("unknown user: exit %d", code)
	}
	if code, _, _ := cpRun(t, org, "hub1", "garbage", nil); code != cpBadPassword {
		t.Errorf("no NUL: exit %d", code)
	}
}

// A userdb lookup (AUTHORIZED=1) needs no password, says AUTHORIZED=2, and
// knows only the mailboxes of this server (3 otherwise).
func TestCheckpasswordUserdb(t *testing.T) {
	org := cpOrg(t)
	code, vars, errOut := cpRun(t, org, "hub1", "A.Smith@contoso.test\x00\x00", map[string]string{"AUTHORIZED": "1"})
	if code != 0 || !strings.Contains(strings.Join(vars, "|"), "USER=alice@contoso.test") || vars[len(vars)-1] != "AUTHORIZED=2" {
		t.Fatalf("exit %d vars %q: %s", code, vars, errOut)
	}
	if code, _, _ := cpRun(t, org, "hub1", "bob@contoso.test\x00\x00", map[string]string{"AUTHORIZED": "1"}); code != cpNoUser {
		t.Errorf("mailbox of another server: exit %d, want 3", code)
	}
	if code, _, _ := cpRun(t, org, "hub1", "nobody@contoso.test\x00\x00", map[string]string{"AUTHORIZED": "1"}); code != cpNoUser {
		t.Errorf("unknown user: exit %d, want 3", code)
	}
}

// The lockout outlives the process: failures recorded by earlier runs lock
// the account for a new address, even with the right password, while the
// address the user logged in from before still gets in.
func TestCheckpasswordLockoutPersists(t *testing.T) {
	org := cpOrg(t)
	home := map[string]string{"TCPREMOTEIP": "127.0.0.1"}
	if code, _, errOut := cpRun(t, org, "hub1", "alice@contoso.test\x00alice pw\x00", home); code != 0 {
		t.Fatalf("first login: exit %d: %s", code, errOut)
	}
	// Attackers from many addresses, so that no address lockout comes first.
	for i := range 20 {
		attacker := map[string]string{"TCPREMOTEIP": "192.0.2." + string(rune('1'+i%9)) + string(rune('0'+i/9))}
		if code, _, _ := cpRun(t, org, "hub1", "alice@contoso.test\x00guess\x00", attacker); code != cpBadPassword {
			t.Fatalf("guess %d: exit %d", i, code)
		}
	}
	code, _, errOut := cpRun(t, org, "hub1", "alice@contoso.test\x00alice pw\x00", map[string]string{"TCPREMOTEIP": "198.51.100.7"})
	if code != cpBadPassword || !strings.Contains(errOut, "account locked out") {
		t.Errorf("right password from a new address during the lockout: exit %d: %s", code, errOut)
	}
	if testing.Short() {
		return
	}
	code, _, errOut = cpRun(t, org, "hub1", "alice@contoso.test\x00alice pw\x00", home)
	if code != 0 {
		t.Errorf("the known address after a delay: exit %d: %s", code, errOut)
	}
}

// With the embedded directory ([directory] backend = "embedded"), a
// mailbox added with "waypost directory add" logs in by its secondary
// address and is found by a userdb lookup.
func TestCheckpasswordEmbedded(t *testing.T) {
	org := cpOrg(t)
	text, err := os.ReadFile(org)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(org, append(text, "[directory]\nbackend = \"embedded\"\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("finn pw"), bcrypt.MinCost)
	if code, out, errOut := run(t, "directory", "--config", org, "--server", "hub1", "add", "--kind", "mailbox", "--name", "Finn",
		"--home", "hub1", "--address", "SMTP:finn@contoso.test", "--address", "smtp:f@contoso.test", "--password-hash", string(hash)); code != 0 {
		t.Fatalf("directory add: exit %d %s %s", code, out, errOut)
	}
	code, vars, errOut := cpRun(t, org, "hub1", "f@contoso.test\x00finn pw\x00", nil)
	if code != 0 || len(vars) == 0 || vars[0] != "USER=finn@contoso.test" {
		t.Fatalf("login: exit %d %q %s", code, vars, errOut)
	}
	if code, _, _ := cpRun(t, org, "hub1", "finn@contoso.test\x00alice pw\x00", nil); code != cpBadPassword {
		t.Errorf("another's password: exit %d, want 1", code)
	}
	if code, vars, errOut := cpRun(t, org, "hub1", "F@contoso.test\x00\x00", map[string]string{"AUTHORIZED": "1"}); code != 0 || vars[0] != "USER=finn@contoso.test" {
		t.Errorf("userdb lookup: exit %d %q %s", code, vars, errOut)
	}
}
