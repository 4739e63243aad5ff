package delivery

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// script writes an executable shell script for the test to run as the
// pipe's program (the script is the program; Waypost runs no shell).
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sendfax")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPipeExitCodes(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	prog := script(t, `printf '%s\n' "$@" > "`+out+`"; cat >> "`+out+`"
case "$2" in
  +1*) exit 0 ;;
  +2*) echo "modem busy" >&2; exit 75 ;;
  +3*) echo "no such number" >&2; exit 1 ;;
  +4*) sleep 5 ;;
esac`)
	p := &Pipe{Command: []string{prog, "{type}", "{address}", "{sender}"}, Timeout: time.Second, DefaultDomain: "contoso.test"}
	m := message("Subject: fax\r\n\r\npage\r\n",
		Recipient{Type: "FAX", Address: "+1 555"},
		Recipient{Type: "FAX", Address: "+2 555"},
		Recipient{Type: "FAX", Address: "+3 555"},
		Recipient{Type: "FAX", Address: "+4 555"})
	res := p.Deliver(context.Background(), m)
	want := []struct {
		class Class
		text  string
	}{{Relayed, ""}, {Retry, "modem busy"}, {Failed, "no such number"}, {Retry, ""}}
	for i, w := range want {
		if res[i].Class != w.class || !strings.Contains(res[i].RemoteText, w.text) {
			t.Errorf("recipient %d: %+v, want %s with %q", i, res[i], w.class, w.text)
		}
	}
	if !strings.Contains(res[3].Text, "did not finish") {
		t.Errorf("timeout: %+v", res[3])
	}
}

// TestPipeHostileAddresses: whatever an address holds, it reaches the
// program as one argv element and nothing else runs.
func TestPipeHostileAddresses(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	canary := filepath.Join(dir, "pwned")
	prog := script(t, `for a in "$@"; do printf '[%s]\n' "$a"; done >> "`+out+`"; cat > /dev/null`)
	p := &Pipe{Command: []string{prog, "{address}"}, Timeout: 5 * time.Second}
	hostile := []string{
		"+1; touch " + canary,
		"$(touch " + canary + ")",
		"`touch " + canary + "`",
		"+1 | touch " + canary,
		"+1\n touch " + canary,
		"'\"; touch " + canary + "; echo \"'",
		"--help",
	}
	for _, h := range hostile {
		if res := p.Deliver(context.Background(), message("x\r\n", Recipient{Type: "FAX", Address: h})); res[0].Class != Relayed {
			t.Fatalf("%q: %+v", h, res[0])
		}
	}
	if _, err := os.Stat(canary); err == nil {
		t.Fatal("an address ran a command")
	}
	if res := p.Deliver(context.Background(), message("x\r\n", Recipient{Type: "FAX", Address: "+1\x00x"})); res[0].Class != Failed || res[0].Status != "5.1.3" {
		t.Errorf("an address with NUL cannot be an argument: %+v, want failed 5.1.3 (not a retry until expiry)", res[0])
	}
	got, _ := os.ReadFile(out)
	var want strings.Builder
	for _, h := range hostile {
		want.WriteString("[" + h + "]\n")
	}
	if string(got) != want.String() {
		t.Errorf("arguments\n%s\nwant\n%s", got, want.String())
	}
}
