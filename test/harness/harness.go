// Package harness starts real waypost processes for integration tests:
// the binary is built once per test run, each hub gets random loopback
// ports and a temporary folder, and everything is stopped at cleanup
// (after maddy's tests/t.go, github.com/foxcpp/maddy).
package harness

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/dnstest"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Binary builds cmd/waypost once and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "waypost-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "waypost")
		cmd := exec.Command("go", "build", "-race", "-o", binary, "./cmd/waypost")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// Port returns a free loopback address (127.0.0.1:port), never one it
// returned before in this process: the kernel may give a port that was
// just closed again, and two listeners of one test would then collide.
func Port(t testing.TB) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !portsGiven[addr] {
			portsGiven[addr] = true
			return addr
		}
	}
}

var (
	portsMu    sync.Mutex
	portsGiven = map[string]bool{}
)

// Hub is one running `waypost serve`.
type Hub struct {
	t      testing.TB
	cmd    *exec.Cmd
	log    *syncWriter // what it wrote to stderr
	done   chan struct{}
	waited error
}

// Start runs `waypost serve --config config --server server` and waits
// until every address in ready accepts connections.
func Start(t testing.TB, config, server string, ready ...string) *Hub {
	t.Helper()
	return StartFlags(t, config, server, nil, ready...)
}

// StartFlags is Start with more flags for `waypost serve`.
func StartFlags(t testing.TB, config, server string, flags []string, ready ...string) *Hub {
	t.Helper()
	return startHub(t, config, server, flags, nil, ready...)
}

// startHub is StartFlags, as the user of cred when it is not nil.
func startHub(t testing.TB, config, server string, flags []string, cred *syscall.Credential, ready ...string) *Hub {
	t.Helper()
	h := &Hub{t: t, log: &syncWriter{w: &bytes.Buffer{}}, done: make(chan struct{})}
	if !slices.Contains(flags, "--dns") && !namesDNS(t, config) {
		// No test asks the system's resolver (loopback only): a hub whose
		// file names no dns asks a private server that knows no name.
		flags = append(slices.Clip(flags), "--dns", dnstest.Start(t).Addr)
	}
	h.cmd = exec.Command(Binary(t), append([]string{"serve", "--config", config, "--server", server}, flags...)...)
	h.cmd.Stderr = h.log
	if cred != nil {
		h.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.waited = h.cmd.Wait(); close(h.done) }()
	t.Cleanup(func() { h.Kill() })
	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range ready {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-h.done:
				t.Fatalf("waypost serve exited: %v\n%s", h.waited, h.Log())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not listening after 20s\n%s", addr, h.Log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return h
}

// dnsKey finds a dns key in an organization file.
var dnsKey = regexp.MustCompile(`(?m)^\s*dns\s*=`)

// namesDNS reports whether the organization file names resolvers.
func namesDNS(t testing.TB, config string) bool {
	t.Helper()
	if config == "" {
		return false // the built-in organization
	}
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	return dnsKey.Match(b)
}

// Log returns what the hub has written to stderr so far.
func (h *Hub) Log() string {
	h.log.mu.Lock()
	defer h.log.mu.Unlock()
	return h.log.w.String()
}

// Stop sends SIGTERM and waits for a clean exit.
func (h *Hub) Stop() error {
	h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
		return h.waited
	case <-time.After(30 * time.Second):
		h.cmd.Process.Kill()
		<-h.done
		return fmt.Errorf("did not stop within 30s after SIGTERM")
	}
}

// PID is the hub's process ID (for /proc/PID/status in tests of its memory).
func (h *Hub) PID() int { return h.cmd.Process.Pid }

// Signal sends sig to the hub (SIGHUP: reload).
func (h *Hub) Signal(sig os.Signal) error { return h.cmd.Process.Signal(sig) }

// Alive reports whether the process is still running.
func (h *Hub) Alive() bool {
	select {
	case <-h.done:
		return false
	default:
		return true
	}
}

// Kill stops the process at once, as a crash would.
func (h *Hub) Kill() {
	select {
	case <-h.done:
	default:
		h.cmd.Process.Kill()
		<-h.done
	}
}

// WaitFor polls cond until it is true or the timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Maildir returns the messages in the new/ folder of a mailbox.
func Maildir(t testing.TB, dataDir, folder string) []string {
	t.Helper()
	dir := filepath.Join(dataDir, "mailboxes", folder, "Maildir", "new")
	files, _ := os.ReadDir(dir)
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

// Write writes a file, failing the test on error.
func Write(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.TrimLeft(text, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
