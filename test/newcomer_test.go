package test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/test/harness"
)

// runIn runs the real binary in dir with args and returns its exit code,
// standard output and standard error.
func runIn(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(harness.Binary(t), args...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// What a newcomer types first: --version works like the command, a flag
// with its value missing is a usage error (exit 2), not a value of "--".
func TestNewcomerCommandLine(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := runIn(t, dir, "--version")
	if code != 0 || !strings.HasPrefix(out, "waypost ") {
		t.Errorf("waypost --version: exit %d, %q", code, out)
	}
	for _, args := range [][]string{{"serve", "--config"}, {"route", "bob@example.test", "--config"}, {"check", "--config"}} {
		code, _, errOut := runIn(t, dir, args...)
		if code != 2 || !strings.Contains(errOut, "flag needs an argument: -config") {
			t.Errorf("waypost %s: exit %d, %s", strings.Join(args, " "), code, errOut)
		}
	}
	code, out, _ = runIn(t, dir, "--help")
	if code != 0 || !strings.Contains(out, "Exit codes: 0 success, 1 failure") {
		t.Errorf("help does not give the exit codes: exit %d\n%s", code, out)
	}
}

// A hub that cannot start says why and what to do: here its SMTP port is
// taken by another program.
func TestStartupFailureSaysTheFix(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "org.toml")
	os.WriteFile(cfg, []byte(`[organization]
default_domain = "example.test"
[[site]]
name = "HQ"
[[accepted_domain]]
domain = "example.test"
[[server]]
name = "hub"
site = "HQ"
data_dir = "data"
  [[server.receive]]
  name = "Internet"
  listen = "`+ln.Addr().String()+`"
`), 0o600)
	code, _, errOut := runIn(t, dir, "serve", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "address already in use") || !strings.Contains(errOut, "fix:") || !strings.Contains(errOut, "listen") {
		t.Errorf("serve on a taken port: exit %d\n%s", code, errOut)
	}
}

// waypost passwd at a terminal asks twice and never echoes the password
// (the terminal is a pseudo-terminal made by script(1)).
func TestPasswdDoesNotEcho(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) (util-linux) is not installed")
	}
	bin := harness.Binary(t)
	cmd := exec.Command("script", "-q", "-e", "-c", bin+" passwd", "/dev/null")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var seen bytes.Buffer
	r := bufio.NewReader(io.TeeReader(stdout, &seen))
	waitFor := func(s string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(seen.String(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q from waypost passwd; it wrote %q", s, seen.String())
			}
			if _, err := r.ReadByte(); err != nil {
				t.Fatalf("waiting for %q: %v; it wrote %q", s, err, seen.String())
			}
		}
	}
	waitFor("Password: ")
	io.WriteString(stdin, "sekrit-typed\r")
	waitFor("The same again: ")
	io.WriteString(stdin, "sekrit-typed\r")
	io.Copy(io.Discard, r)
	cmd.Wait()
	if strings.Contains(seen.String(), "sekrit-typed") {
		t.Errorf("the password was echoed: %q", seen.String())
	}
	if !strings.Contains(seen.String(), "$2") {
		t.Errorf("no bcrypt hash printed: %q", seen.String())
	}
}
