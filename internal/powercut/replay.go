package powercut

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Crash is one state a power cut could leave, written out for a check.
type Crash struct {
	Dir   string   // the recorded folder as the power cut left it
	Notes []string // the promises made before the power cut, in order
	After int      // how many operations had been made
	Desc  string   // which state of the model this is
}

func (c *Crash) String() string {
	return fmt.Sprintf("power cut after operation %d, %s", c.After, c.Desc)
}

// maxFailures is how many failed crash states Replay reports in full.
const maxFailures = 3

// Replay writes every state a power cut could leave after every prefix of
// the recorded operations (see the package documentation) to a temporary
// folder in turn and calls check on it; an error of check fails t, naming
// the state and the operations that led to it. It returns how many states
// were checked.
func (r *Recorder) Replay(t testing.TB, check func(c *Crash) error) int {
	t.Helper()
	ops := r.Ops()
	base := t.TempDir()
	seen := map[[32]byte]bool{}
	m := r.initial.clone()
	var notes []string
	checked, failed := 0, 0
	for i := 0; i <= len(ops); i++ {
		if i > 0 {
			op := ops[i-1]
			if err := m.apply(op); err != nil {
				t.Fatalf("powercut: replaying operation %d (%v): %v", i, op, err)
			}
			if op.Kind == OpNote {
				notes = append(notes, op.Note)
			}
		}
		for _, v := range m.views() {
			files := m.state(v)
			key := stateKey(files, len(notes))
			if seen[key] {
				continue
			}
			seen[key] = true
			dir := filepath.Join(base, "state")
			if err := write(dir, files); err != nil {
				t.Fatalf("powercut: %v", err)
			}
			c := &Crash{Dir: dir, Notes: append([]string(nil), notes...), After: i, Desc: v.desc}
			err := check(c)
			checked++
			if err != nil {
				failed++
				if failed <= maxFailures {
					t.Errorf("%v: %v\noperations:\n%s", c, err, opsList(ops[:i]))
				}
			}
			if err := os.RemoveAll(dir); err != nil {
				t.Fatalf("powercut: %v", err)
			}
		}
	}
	if failed > maxFailures {
		t.Errorf("%d more crash states failed", failed-maxFailures)
	}
	return checked
}

// stateKey identifies a state and the promises it is held to.
func stateKey(files []file, notes int) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%d notes\n", notes)
	for _, f := range files {
		fmt.Fprintf(h, "%q %v %d\n", f.path, f.dir, len(f.data))
		h.Write(f.data)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// write creates dir holding files.
func write(dir string, files []file) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		var err error
		if f.dir {
			err = os.Mkdir(p, 0o700)
		} else {
			err = os.WriteFile(p, f.data, 0o600)
		}
		if err != nil {
			return fmt.Errorf("writing a crash state: %w", err)
		}
	}
	return nil
}

// opsList lists operations one a line, numbered from 1, the last 40.
func opsList(ops []Op) string {
	var b strings.Builder
	from := max(0, len(ops)-40)
	if from > 0 {
		fmt.Fprintf(&b, "  (%d earlier)\n", from)
	}
	for i := from; i < len(ops); i++ {
		fmt.Fprintf(&b, "  %3d %v\n", i+1, ops[i])
	}
	return b.String()
}
