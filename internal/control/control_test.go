package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// serve starts a Server on a socket in a fresh folder with h.
func serve(t *testing.T, h Handler) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, err := Listen(SocketPath(dir), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(h) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

type echoArgs struct {
	Word string `json:"word"`
}

func echo(ctx context.Context, p Peer, op string, args json.RawMessage) (*Reply, error) {
	var a echoArgs
	json.Unmarshal(args, &a)
	switch op {
	case "echo":
		return &Reply{Result: map[string]any{"word": a.Word, "uid": p.UID}}, nil
	case "data":
		return &Reply{Result: map[string]int{"n": len(a.Word)}, Data: io.NopCloser(strings.NewReader(a.Word)), Size: int64(len(a.Word))}, nil
	case "short":
		return &Reply{Data: io.NopCloser(strings.NewReader("abc")), Size: 10}, nil
	case "invalid":
		return nil, &Error{Code: CodeInvalid, Msg: "the file has 2 errors", Errors: []string{"f:1: one", "f:2: two"}}
	case "boom":
		panic("boom")
	case "plain":
		return nil, errors.New("disk on fire")
	}
	return nil, Errorf(CodeUnknownOp, "unknown operation %q", op)
}

func TestRoundTrip(t *testing.T) {
	s := serve(t, echo)
	fi, err := os.Stat(s.Path())
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v %v, want a socket of mode 0600", fi.Mode(), err)
	}
	c, err := Dial(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Several calls on one connection.
	for _, w := range []string{"one", "two"} {
		var res struct {
			Word string
			UID  int
		}
		if err := c.Call("echo", echoArgs{w}, &res); err != nil || res.Word != w || res.UID != os.Getuid() {
			t.Errorf("echo %s: %+v %v (uid %d)", w, res, err, os.Getuid())
		}
	}
	// Raw data after the line, then the connection goes on.
	var n struct{ N int }
	r, size, err := c.CallData("data", echoArgs{"hello\r\nworld\n"}, &n)
	if err != nil || size != 13 || n.N != 13 {
		t.Fatalf("data: %v %d %+v", err, size, n)
	}
	if b, _ := io.ReadAll(r); string(b) != "hello\r\nworld\n" {
		t.Errorf("data: %q", b)
	}
	if err := c.Call("echo", echoArgs{"after"}, nil); err != nil {
		t.Errorf("call after data: %v", err)
	}
	// Refusals keep their code and every error.
	err = c.Call("invalid", nil, nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != CodeInvalid || len(ce.Errors) != 2 || !strings.Contains(err.Error(), "f:2: two") {
		t.Errorf("invalid: %#v", err)
	}
	if err := c.Call("nope", nil, nil); !errors.As(err, &ce) || ce.Code != CodeUnknownOp {
		t.Errorf("unknown op: %v", err)
	}
	// A panic and a plain error are internal errors, and the server lives on.
	if err := c.Call("boom", nil, nil); !errors.As(err, &ce) || ce.Code != CodeInternal || !strings.Contains(ce.Msg, "boom") {
		t.Errorf("panic: %v", err)
	}
	if err := c.Call("plain", nil, nil); !errors.As(err, &ce) || ce.Code != CodeInternal || ce.Msg != "disk on fire" {
		t.Errorf("plain error: %v", err)
	}
	if err := c.Call("echo", echoArgs{"still here"}, nil); err != nil {
		t.Errorf("after a panic: %v", err)
	}
	// Data that ends short is an error, never a silent truncation.
	c2, err := Dial(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	r, _, err = c2.CallData("short", nil, nil)
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short data: %v, want unexpected EOF", err)
	}
}

func TestProtocolErrors(t *testing.T) {
	s := serve(t, echo)
	raw := func(line string) Response {
		t.Helper()
		c, err := net.Dial("unix", s.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, line)
		b, err := bufio.NewReader(c).ReadBytes('\n')
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		var resp Response
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatalf("%q: answer %q: %v", line, b, err)
		}
		return resp
	}
	if r := raw(`{"v":2,"op":"echo"}` + "\n"); r.OK || r.Code != CodeVersion || r.V != Version || !strings.Contains(r.Error, "version 1") {
		t.Errorf("version 2: %+v", r)
	}
	if r := raw("not json\n"); r.OK || r.Code != CodeBadRequest {
		t.Errorf("not JSON: %+v", r)
	}
	if r := raw(strings.Repeat("x", maxRequest+10) + "\n"); r.OK || r.Code != CodeBadRequest || !strings.Contains(r.Error, "longer than") {
		t.Errorf("a huge line: %+v", r)
	}
	if r := raw(`{"v":1,"op":"echo","args":{"word":"hi"},"future":"ignored"}` + "\n"); !r.OK || !strings.Contains(string(r.Result), `"hi"`) {
		t.Errorf("unknown field: %+v", r)
	}
}

func TestListen(t *testing.T) {
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := SocketPath(dir)
	// A socket left by a hub that died is replaced.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	s, err := Listen(path, nil)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	s.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("Close left the socket: %v", err)
	}
	// Anything else at the path is left alone.
	os.WriteFile(path, []byte("mine"), 0o600)
	if _, err := Listen(path, nil); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("over a file: %v", err)
	}
	// Too long a path is refused with a fix, on both sides.
	long := "/tmp/" + strings.Repeat("d", 120) + "/" + SocketName
	if _, err := Listen(long, nil); err == nil || !strings.Contains(err.Error(), "shorter data_dir") {
		t.Errorf("long path: %v", err)
	}
	if _, err := Dial(long); err == nil || !strings.Contains(err.Error(), "shorter data_dir") {
		t.Errorf("dial long path: %v", err)
	}
	// No hub: the error says so.
	if _, err := Dial(filepath.Join(dir, "none.sock")); err == nil || !strings.Contains(err.Error(), "no hub is running") {
		t.Errorf("dial without a hub: %v", err)
	}
}

// A peer that is neither the hub's user nor root is refused, whatever the
// socket's mode: the kernel's word (SO_PEERCRED), not the file's, decides.
// The client runs as nobody (uid 65534) in a child process.
func TestPeerCredentials(t *testing.T) {
	if os.Getenv("WAYPOST_CONTROL_CHILD") != "" {
		c, err := Dial(os.Getenv("WAYPOST_CONTROL_CHILD"))
		if err != nil {
			os.Stdout.WriteString("dial: " + err.Error())
			os.Exit(0)
		}
		err = c.Call("echo", echoArgs{"x"}, nil)
		var ce *Error
		if errors.As(err, &ce) {
			os.Stdout.WriteString(ce.Code + ": " + ce.Msg)
		} else {
			os.Stdout.WriteString("answered: " + errString(err))
		}
		os.Exit(0)
	}
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	s := serve(t, echo)
	os.Chmod(filepath.Dir(s.Path()), 0o755)
	os.Chmod(s.Path(), 0o666) // as if someone loosened it
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary, where nobody may run it.
	bin, err := os.MkdirTemp("", "ctlbin")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(bin)
	os.Chmod(bin, 0o755)
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(bin, "control.test")
	if err := os.WriteFile(child, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(child, "-test.run", "^TestPeerCredentials$")
	cmd.Env = append(os.Environ(), "WAYPOST_CONTROL_CHILD="+s.Path())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), CodeForbidden+": ") || !strings.Contains(string(out), "uid 65534") {
		t.Errorf("a client running as uid 65534 got: %s", out)
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
