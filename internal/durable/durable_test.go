package durable

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	for _, content := range []string{"first", "second, longer than the first"} {
		if err := WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != content {
			t.Fatalf("read back %q, %v; want %q", b, err, content)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left beside the target: %v", entries)
	}
	// A folder that does not exist: an error naming the path, nothing left.
	bad := filepath.Join(dir, "missing", "state")
	if err := WriteFile(bad, []byte("x"), 0o600); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("WriteFile into a missing folder: %v", err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("SyncDir of a missing folder: no error")
	}
}

// Commit puts a streamed file in place and leaves no temporary file; a
// failed Commit (its target folder is gone) removes the temporary file too.
func TestCommit(t *testing.T) {
	dir := t.TempDir()
	f, err := CreateTemp(OS, dir, ".tmp-x-")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("whole"))
	if err := Commit(OS, f, filepath.Join(dir, "x")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "x")); err != nil || string(b) != "whole" {
		t.Fatalf("after Commit: %q, %v", b, err)
	}
	f, err = CreateTemp(OS, dir, ".tmp-y-")
	if err != nil {
		t.Fatal(err)
	}
	if err := Commit(OS, f, filepath.Join(dir, "missing", "y")); err == nil {
		t.Fatal("Commit into a missing folder succeeded")
	}
	names, _ := os.ReadDir(dir)
	if len(names) != 1 || names[0].Name() != "x" {
		t.Fatalf("left in the folder: %v", names)
	}
}

func TestSafeName(t *testing.T) {
	if got := SafeName("a/b\\c\r\nd.test"); got != "a_b_c__d.test" {
		t.Errorf("SafeName = %q", got)
	}
}
