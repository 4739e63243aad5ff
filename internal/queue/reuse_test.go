package queue

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// statT is the file at path, which must exist.
func statT(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// pooled lists the removed queue files kept for reuse.
func pooled(t *testing.T, s *Store) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(s.msgDir, freePrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// A removed queue file is kept and written over by a later Add, but only
// once an fsync of msg/ that began after its removal has ended: the Add
// right after the removal creates a new file (its own folder fsync makes
// the removal durable), the one after reuses the file. A reused file that
// held more than the new message is cut to it.
func TestReuseAfterTheRemovalIsDurable(t *testing.T) {
	s, _ := openT(t, "")
	long := "Subject: long\r\n\r\n" + strings.Repeat("a long first message\r\n", 100)
	a := addT(t, s, long)
	aFile := statT(t, s.msgPath(a.ID))
	if err := s.RemoveMessage(a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after RemoveMessage: %v, want ErrNotFound", err)
	}
	if p := pooled(t, s); len(p) != 1 || !os.SameFile(statT(t, p[0]), aFile) {
		t.Fatalf("pool after the removal: %v, want the removed file", p)
	}

	b := addT(t, s, "Subject: b\r\n\r\nsecond\r\n")
	if os.SameFile(statT(t, s.msgPath(b.ID)), aFile) {
		t.Fatal("the removed file was written over before a folder fsync made its removal durable")
	}
	c := addT(t, s, "Subject: c\r\n\r\nthird\r\n")
	if !os.SameFile(statT(t, s.msgPath(c.ID)), aFile) {
		t.Error("the removed file was not reused once its removal was durable")
	}
	if p := pooled(t, s); len(p) != 0 {
		t.Errorf("pool after the reuse: %v, want none", p)
	}
	for _, m := range []*Message{b, c} {
		got, err := s.Get(m.ID)
		if err != nil {
			t.Fatalf("Get(%s): %v", m.ID, err)
		}
		if got.Size != m.Size {
			t.Errorf("%s: size %d, want %d", m.ID, got.Size, m.Size)
		}
	}
	if got := readContent(t, s, c.ID); got != "Subject: c\r\n\r\nthird\r\n" {
		t.Errorf("content of the reused file: %q", got)
	}
	if fi := statT(t, s.msgPath(c.ID)); fi.Size() >= int64(len(long)) {
		t.Errorf("the reused file holds %d bytes: not cut to its new message", fi.Size())
	}

	// A restart removes what the pool held, and reports nothing.
	if err := s.RemoveMessage(b); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, rec := openT(t, s.Dir())
	if rec.Resumed != 1 || len(rec.RemovedPartial) != 0 || len(rec.Quarantined) != 0 {
		t.Errorf("recovery with a pooled file: %+v, want one message resumed and nothing else", rec)
	}
	if p := pooled(t, s2); len(p) != 0 {
		t.Errorf("pooled files after Open: %v", p)
	}
}

// A message above poolMaxContent, and a removal by ID alone (size not
// known), are unlinked; so is every file past poolMax.
func TestReuseLimits(t *testing.T) {
	s, _ := openT(t, "")
	big := addT(t, s, strings.Repeat("x", poolMaxContent+1))
	if err := s.RemoveMessage(big); err != nil {
		t.Fatal(err)
	}
	byID := addT(t, s, "small")
	if err := s.Remove(byID.ID); err != nil {
		t.Fatal(err)
	}
	if p := pooled(t, s); len(p) != 0 {
		t.Errorf("pooled: %v, want none", p)
	}
	var ms []*Message
	for range poolMax + 3 {
		ms = append(ms, addT(t, s, "one of many"))
	}
	for _, m := range ms {
		if err := s.RemoveMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	if p := pooled(t, s); len(p) != poolMax {
		t.Errorf("%d pooled, want %d", len(p), poolMax)
	}
	if got := files(t, s.Dir()); len(got) != 0 {
		t.Errorf("files left: %v", got)
	}
}

// When the fsync of msg/ that was to make a removal durable fails, the
// removed file is never written over (the kernel may have dropped the
// removal, and the file come back under the message's name after a
// crash): it is unlinked instead.
func TestReuseNotAfterAFailedFolderSync(t *testing.T) {
	fsys := &faultFS{}
	s, _, err := open(filepath.Join(t.TempDir(), "queue"), fsys)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := addT(t, s, "Subject: a\r\n\r\nfirst\r\n")
	// A second name for A's file keeps its inode (and number) alive
	// should the pool unlink it, and shows whether it was written over.
	keep := filepath.Join(s.Dir(), "keep")
	if err := os.Link(s.msgPath(a.ID), keep); err != nil {
		t.Fatal(err)
	}
	aFile := statT(t, keep)
	if err := s.RemoveMessage(a); err != nil {
		t.Fatal(err)
	}
	fsys.mu.Lock()
	fsys.op, fsys.dir = "syncdir", "msg"
	fsys.mu.Unlock()
	if _, err := s.Add(testEnvelope(), strings.NewReader("fails")); !errors.Is(err, ErrStorage) {
		t.Fatalf("Add with a failing folder fsync: %v, want ErrStorage", err)
	}
	c := addT(t, s, "Subject: c\r\n\r\nthird\r\n")
	if os.SameFile(statT(t, s.msgPath(c.ID)), aFile) {
		t.Fatal("a removed file was reused after the fsync that was to make its removal durable failed")
	}
	if p := pooled(t, s); len(p) != 0 {
		t.Errorf("pool: %v, want the file unlinked", p)
	}
	if got := readContent(t, s, c.ID); got != "Subject: c\r\n\r\nthird\r\n" {
		t.Errorf("content: %q", got)
	}
	if b, err := os.ReadFile(keep); err != nil || !strings.HasPrefix(string(b), "Subject: a\r\n\r\nfirst\r\n") {
		t.Errorf("the removed file was written over: %q, %v", b, err)
	}
}

// While the disk is full (a write failed with ENOSPC) nothing is kept:
// the files kept before are unlinked and each removal frees its space at
// once, as delivery must with a full disk; a write that succeeds ends it.
func TestReuseNotWhileTheDiskIsFull(t *testing.T) {
	var full atomic.Bool
	s, _, err := OpenWith(filepath.Join(t.TempDir(), "queue"), Options{Fault: func(op, path string) error {
		if full.Load() && op == "write" {
			return syscall.ENOSPC
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b := addT(t, s, "a"), addT(t, s, "b")
	if err := s.RemoveMessage(a); err != nil {
		t.Fatal(err)
	}
	if p := pooled(t, s); len(p) != 1 {
		t.Fatalf("pooled before the disk is full: %v", p)
	}
	full.Store(true)
	if _, err := s.Add(testEnvelope(), strings.NewReader("c")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Add with the disk full: %v, want ENOSPC", err)
	}
	if p := pooled(t, s); len(p) != 0 {
		t.Errorf("pooled after ENOSPC: %v, want none (their space freed)", p)
	}
	if err := s.RemoveMessage(b); err != nil {
		t.Fatal(err)
	}
	if p := pooled(t, s); len(p) != 0 {
		t.Errorf("a removal with the disk full was kept: %v", p)
	}
	full.Store(false)
	d := addT(t, s, "d")
	if err := s.RemoveMessage(d); err != nil {
		t.Fatal(err)
	}
	if p := pooled(t, s); len(p) != 1 {
		t.Errorf("pooled once writes succeed again: %v, want the removed file", p)
	}
}
