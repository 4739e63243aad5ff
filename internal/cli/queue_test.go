package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestQueueAndReloadUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"queue"}, 2, "name a subcommand"},
		{[]string{"queue", "flush"}, 2, `unknown subcommand "flush"`},
		{[]string{"queue", "show"}, 2, "show takes one queue ID"},
		{[]string{"queue", "show", "hub:hub2"}, 2, "is not a queue ID"},
		{[]string{"queue", "dump", "a", "b"}, 2, "is not a queue ID"},
		{[]string{"queue", "list", "--ndr"}, 2, "--ndr goes with remove"},
		{[]string{"queue", "retry", "--messages"}, 2, "--messages goes with list"},
		{[]string{"queue", "retry", "--all"}, 2, "--all goes with hold, release or discard"},
		{[]string{"queue", "remove", "--sender", "x"}, 2, "remove takes queue IDs, not filters"},
		{[]string{"reload", "extra"}, 2, `unexpected argument "extra"`},
		// No hub runs: the command says so and what to do.
		{[]string{"queue", "list", "--socket", filepath.Join(dir, "control.sock")}, 1, `no hub is running`},
		{[]string{"reload", "--config", example, "--server", "hub-hq", "--socket", filepath.Join(dir, "x.sock")}, 1, `start it with "waypost serve"`},
		{[]string{"reload", "--config", example}, 1, "say which one with --server"},
	} {
		code, _, errOut := run(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.says) {
			t.Errorf("waypost %v: exit %d, stderr %q; want exit %d saying %q", tc.args, code, errOut, tc.code, tc.says)
		}
	}
}

// A file with errors still leads to the hub's socket: a refused reload
// must be reportable.
func TestHubSocketFromABrokenFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "org.toml")
	os.WriteFile(file, []byte("[organization]\ncolour = 1\n[[server]]\nname = \"hub1\"\n[[server]]\nname = \"hub2\"\ndata_dir = \"/srv/h2\"\n"), 0o600)
	for server, want := range map[string]string{"hub1": filepath.Join(dir, "data", "hub1", "control.sock"), "hub2": "/srv/h2/control.sock"} {
		code, _, errOut := run(t, "reload", "--config", file, "--server", server)
		if code != 1 || !strings.Contains(errOut, "no hub is running on "+want) {
			t.Errorf("%s: exit %d: %s", server, code, errOut)
		}
	}
	if code, _, errOut := run(t, "reload", "--config", file); code != 1 || !strings.Contains(errOut, "--server (hub1, hub2)") {
		t.Errorf("without --server: exit %d: %s", code, errOut)
	}
}

// check runs start-up's validation: an empty hub secret, which once only
// start-up refused, is an error for check too.
func TestCheckSharesStartUpValidation(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hub.secret"), []byte("\n"), 0o600)
	file := filepath.Join(dir, "org.toml")
	os.WriteFile(file, []byte(`
[organization]
default_domain = "contoso.test"
hub_secret_file = "hub.secret"
[[accepted_domain]]
domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
`), 0o600)
	code, _, errOut := run(t, "check", "--config", file)
	if code != 1 || !strings.Contains(errOut, "hub.secret is empty") || !strings.Contains(errOut, "waypost secret >") {
		t.Errorf("check: exit %d: %s", code, errOut)
	}
	code, _, errOut = run(t, "serve", "--config", file)
	if code != 1 || !strings.Contains(errOut, "hub.secret is empty") {
		t.Errorf("serve: exit %d: %s", code, errOut)
	}
}

func TestQueueFormatting(t *testing.T) {
	for d, want := range map[time.Duration]string{-time.Second: "0s", 45 * time.Second: "45s", 12*time.Minute + 3*time.Second: "12m03s",
		3*time.Hour + 5*time.Minute: "3h05m", 50 * time.Hour: "2d02h"} {
		if got := age(d); got != want {
			t.Errorf("age(%s) = %q, want %q", d, got, want)
		}
	}
	if !looksLikeID("18eca124d865d397-21f925b02f5a") || looksLikeID("18eca124d865d397-21f925b02f5") || looksLikeID("connector:Internet@hub1") {
		t.Error("looksLikeID")
	}
}
