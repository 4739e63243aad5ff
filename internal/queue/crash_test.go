package queue

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashEnv names the queue folder of the child process of TestCrash.
const crashEnv = "WAYPOST_QUEUE_CRASH_DIR"

// TestCrash kills a process that is adding messages (SIGKILL, at a random
// moment) and checks that every message whose Add returned is there and
// valid after re-Open, with nothing quarantined. A killed process loses
// nothing the kernel has; a power cut is what the fsyncs are for, and
// this test cannot make one.
func TestCrash(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in the child")
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	for round := range 5 {
		dir := filepath.Join(t.TempDir(), "queue")
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}

		// Let the child add a few messages, then kill it in the middle
		// of whatever it is doing.
		acked := map[string]string{} // ID -> content
		lineCh := make(chan string)
		go func() {
			defer close(lineCh)
			r := bufio.NewReader(out)
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return // a line cut by the kill is not an acknowledgement
				}
				lineCh <- strings.TrimSuffix(l, "\n")
			}
		}()
		// The clock starts at the first acknowledgement, not at the
		// start: a loaded machine may take longer than that to start it.
		var kill <-chan time.Time
		killAfter := time.Duration(100+rand.IntN(250)) * time.Millisecond
	read:
		for {
			select {
			case l, ok := <-lineCh:
				if !ok {
					break read
				}
				if id, body, ok := strings.Cut(l, " "); ok {
					acked[id] = body
				}
				if kill == nil && killAfter > 0 {
					kill, killAfter = time.After(killAfter), 0
				}
			case <-kill:
				cmd.Process.Signal(syscall.SIGKILL)
				kill = nil
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child was not killed: %v", round, err)
		}
		if len(acked) == 0 {
			t.Fatalf("round %d: the child added nothing before it was killed", round)
		}

		s, rec, err := Open(dir)
		if err != nil {
			t.Fatalf("round %d: Open after the crash: %v", round, err)
		}
		if len(rec.Quarantined) != 0 {
			t.Errorf("round %d: quarantined after a crash: %+v", round, rec.Quarantined)
		}
		for id, body := range acked {
			if _, err := s.Get(id); err != nil {
				t.Errorf("round %d: message %s acknowledged but: %v", round, id, err)
				continue
			}
			if got := readContent(t, s, id); got != body {
				t.Errorf("round %d: content of %s = %q, want %q", round, id, got, body)
			}
		}
		if rec.Resumed < len(acked) || rec.Resumed > len(acked)+1 {
			t.Errorf("round %d: %d resumed, %d acknowledged (at most one more may have been on its way)", round, rec.Resumed, len(acked))
		}
		t.Logf("round %d: %d acknowledged, %d resumed, removed %v", round, len(acked), rec.Resumed, rec.RemovedPartial)
		s.Close()
	}
}

// TestCrashChild is the process TestCrash kills: it adds messages in a
// loop and prints "ID content" after each Add returns.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	s, _, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	stop := time.Now().Add(10 * time.Second) // should the parent die first
	for i := 0; time.Now().Before(stop); i++ {
		body := fmt.Sprintf("message-%d-%s", i, strings.Repeat("x", i%5000))
		m, err := s.Add(testEnvelope(), strings.NewReader(body))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stdout, "%s %s\n", m.ID, body) // one write: a whole line or nothing
	}
}
