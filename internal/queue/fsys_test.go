package queue

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The real file system's temp file: written in full, flushed, closed
// once; a second Close fails rather than close a descriptor that may
// belong to another file by then.
func TestOSFSTempFile(t *testing.T) {
	dir := t.TempDir()
	f, err := osFS{}.CreateTemp(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(f.Name()), tmpPrefix) || filepath.Dir(f.Name()) != dir {
		t.Errorf("temp file %s, want %s/%s*", f.Name(), dir, tmpPrefix)
	}
	body := strings.Repeat("0123456789", 100_000)
	if n, err := f.Write([]byte(body)); n != len(body) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close = %v, want fs.ErrClosed", err)
	}
	final := filepath.Join(dir, "final")
	if err := (osFS{}).Rename(f.Name(), final); err != nil {
		t.Fatal(err)
	}
	if err := (osFS{}).SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(final)
	if err != nil || string(got) != body {
		t.Errorf("file holds %d bytes (%v), want %d", len(got), err, len(body))
	}
	fi, err := os.Stat(final)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600", fi.Mode(), err)
	}
	if err := (osFS{}).SyncDir(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SyncDir of a missing folder = %v, want ErrNotExist", err)
	}
}
