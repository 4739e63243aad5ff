package durable_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/durable"
	"github.com/waypost/waypost/internal/powercut"
)

// TestPowerCut replays every power cut (internal/powercut) of MkdirAll
// creating three levels of folders and of WriteFile writing into the
// deepest one, then replacing the file: once each returned, a power cut
// never loses the folders or the file, nor brings back the old content.
func TestPowerCut(t *testing.T) {
	root := t.TempDir()
	r, err := powercut.New(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "a", "b", "c")
	if err := durable.MkdirAll(r, dir, 0o700); err != nil {
		t.Fatal(err)
	}
	r.Note("a/b/c/")
	// A second MkdirAll of what exists changes nothing.
	if err := durable.MkdirAll(r, filepath.Join(root, "a", "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"first", "second"} {
		if err := durable.WriteFileFS(r, filepath.Join(dir, "f"), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		r.Note("a/b/c/f=" + content)
	}
	n := r.Replay(t, func(c *powercut.Crash) error {
		want := ""
		for _, n := range c.Notes {
			if n == "a/b/c/" {
				if fi, err := os.Stat(filepath.Join(c.Dir, "a", "b", "c")); err != nil || !fi.IsDir() {
					return fmt.Errorf("the folders MkdirAll made are lost: %v", err)
				}
			} else {
				want = n[len("a/b/c/f="):]
			}
		}
		if want == "" {
			return nil
		}
		got, err := os.ReadFile(filepath.Join(c.Dir, "a", "b", "c", "f"))
		// The content being written may be there already.
		if err != nil || (string(got) != want && !(want == "first" && string(got) == "second")) {
			return fmt.Errorf("the file holds %q, %v; want %q", got, err, want)
		}
		return nil
	})
	t.Logf("%d operations, %d crash states", len(r.Ops()), n)
}

func TestMkdirAll(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "file"), nil, 0o600)
	if err := durable.MkdirAll(durable.OS, filepath.Join(root, "x", "y"), 0o700); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, "x", "y")); err != nil || !fi.IsDir() {
		t.Fatalf("not made: %v", err)
	}
	bad := filepath.Join(root, "file", "y")
	if err := durable.MkdirAll(durable.OS, bad, 0o700); err == nil {
		t.Errorf("MkdirAll under a file: no error")
	} else if got := err.Error(); !contains(got, bad) {
		t.Errorf("error %q does not name %s", got, bad)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
