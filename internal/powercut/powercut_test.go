package powercut

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/durable"
)

// failures collects what Replay reports instead of failing the test.
type failures struct {
	testing.TB
	errs []string
}

func (f *failures) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

// written is the check of these tests: every file named by a note
// "PATH=CONTENT" holds CONTENT.
func written(c *Crash) error {
	for _, n := range c.Notes {
		p, want, _ := strings.Cut(n, "=")
		got, err := os.ReadFile(filepath.Join(c.Dir, p))
		if err != nil || string(got) != want {
			return fmt.Errorf("%s: %q, %v; want %q", p, got, err, want)
		}
	}
	return nil
}

// writeFile writes dir/name by temp file and rename, with or without the
// fsyncs.
func writeFile(t *testing.T, fsys durable.FS, dir, name, content string, syncFile, syncDir bool) {
	t.Helper()
	f, err := fsys.OpenFile(filepath.Join(dir, "tmp"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if syncFile {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if err := fsys.Rename(filepath.Join(dir, "tmp"), filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	if syncDir {
		if err := fsys.SyncDir(dir); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReplayFindsMissingFsyncs(t *testing.T) {
	for _, c := range []struct {
		name              string
		syncFile, syncDir bool
		want              string // in the report; "" for none
	}{
		{"both", true, true, ""},
		{"no folder fsync", true, false, "every unsynced name and byte lost"},
		{"no file fsync", false, true, `a: "", <nil>`},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			r, err := New(root)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, r, root, "a", "first", c.syncFile, c.syncDir)
			r.Note("a=first")
			f := &failures{TB: t}
			n := r.Replay(f, written)
			t.Logf("%d states", n)
			if c.want == "" && len(f.errs) > 0 {
				t.Errorf("a correct write reported: %v", f.errs)
			}
			if c.want != "" && (len(f.errs) == 0 || !strings.Contains(f.errs[0], c.want)) {
				t.Errorf("reports %q, want one saying %q", f.errs, c.want)
			}
		})
	}
}

// A folder created and fsynced is not durable until the folder holding it
// is fsynced too.
func TestReplayFindsNewFolderNotSynced(t *testing.T) {
	root := t.TempDir()
	r, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Mkdir(filepath.Join(root, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, r, filepath.Join(root, "d"), "a", "x", true, true)
	r.Note("d/a=x")
	f := &failures{TB: t}
	r.Replay(f, written)
	if len(f.errs) == 0 || !strings.Contains(f.errs[0], "mkdir d") {
		t.Errorf("reports %q, want the unsynced mkdir", f.errs)
	}

	// With the fsync of the root it holds.
	if err := r.SyncDir(root); err != nil {
		t.Fatal(err)
	}
	r.Note("d/a=x")
	f = &failures{TB: t}
	r.Replay(f, func(c *Crash) error {
		if c.After < len(r.Ops()) {
			return nil
		}
		return written(c)
	})
	if len(f.errs) != 0 {
		t.Errorf("after the fsync of the root: %v", f.errs)
	}
}

// What New finds is durable; states are deduplicated; the operations are
// recorded in order and the recorder refuses paths outside its folder.
func TestRecorder(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "old"), []byte("kept"), 0o600)
	r, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(filepath.Join(root, "old")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.OpenFile(filepath.Join(root, "..", "x"), os.O_WRONLY|os.O_CREATE, 0o600); err == nil {
		t.Error("a file outside the folder was opened")
	}
	var kinds []OpKind
	for _, op := range r.Ops() {
		kinds = append(kinds, op.Kind)
	}
	if !slices.Equal(kinds, []OpKind{OpRemove}) {
		t.Errorf("ops %v", r.Ops())
	}
	var states []bool // whether old is there
	n := r.Replay(t, func(c *Crash) error {
		_, err := os.Stat(filepath.Join(c.Dir, "old"))
		states = append(states, err == nil)
		return nil
	})
	// Before the remove: old; after: old (removal lost) or nothing.
	if n != 2 || !slices.Equal(states, []bool{true, false}) {
		t.Errorf("%d states, old there in %v; want 2: [true false]", n, states)
	}
}
