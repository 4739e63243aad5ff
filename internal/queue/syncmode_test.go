package queue

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/durable"
)

func TestParseSync(t *testing.T) {
	for _, s := range []string{"file", "filesystem", "auto"} {
		m, err := ParseSync(s)
		if err != nil || m.String() != s {
			t.Errorf("ParseSync(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseSync("fsync"); err == nil || !strings.Contains(err.Error(), `"auto", "filesystem" or "file"`) {
		t.Errorf("ParseSync(fsync) = %v, want an error naming the choices", err)
	}
}

// Sync "filesystem" on the real file system: messages added, made durable
// by syncfs, read back after a reopen; "auto" chooses it where syncfs is
// safe, and says why not elsewhere.
func TestSyncFileSystem(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "queue")
	if why := syncFSUnsafe(filepath.Dir(dir)); why != "" {
		if runtime.GOOS == "linux" && os.Getenv("CI") != "" {
			t.Fatalf("syncfs is not safe for the test folder in CI: %s", why)
		}
		t.Skip("syncfs cannot be used here: " + why)
	}
	s, rec, err := OpenWith(dir, Options{Sync: SyncAuto})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Sync != SyncFileSystem || rec.SyncWhy != "" {
		t.Fatalf("auto chose %v (%s), want filesystem", rec.Sync, rec.SyncWhy)
	}
	var ids []string
	for i := range 3 {
		ids = append(ids, addT(t, s, strings.Repeat("x", i*1000)).ID)
	}
	if err := s.Remove(ids[0]); err != nil { // its file kept for reuse
		t.Fatal(err)
	}
	ids = append(ids[1:], addT(t, s, "written over a kept file").ID)
	s, rec = reopen(t, s)
	if rec.Resumed != 3 || len(rec.Quarantined)+len(rec.RemovedPartial) != 0 {
		t.Errorf("Recovery = %+v, want 3 resumed", rec)
	}
	if got := readContent(t, s, ids[2]); got != "written over a kept file" {
		t.Errorf("content %q", got)
	}
}

// Auto falls back to fdatasync and folder fsyncs on a file system
// interface that cannot syncfs; "filesystem" there is an error.
func TestSyncAutoFallsBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "queue")
	s, rec, err := OpenWith(dir, Options{Sync: SyncAuto, FS: durable.OS})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Sync != SyncFile || rec.SyncWhy == "" {
		t.Errorf("auto on durable.OS chose %v (%q), want file and a reason", rec.Sync, rec.SyncWhy)
	}
	s.Close()
	if _, _, err := OpenWith(dir, Options{Sync: SyncFileSystem, FS: durable.OS}); err == nil || !strings.Contains(err.Error(), "no syncfs") {
		t.Errorf("filesystem on durable.OS: %v, want an error", err)
	}
}
