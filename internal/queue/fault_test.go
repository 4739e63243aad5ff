package queue

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// Every write, fsync, close and rename of a durable file write is a point
// where the disk may fail: Add writes the queue file in msg/, Update the
// record in meta/.
var faultSteps = []faultStep{
	{"create", 0, "creating temp file"},
	{"write", 0, "writing"},
	{"sync", 0, "syncing"},
	{"close", 0, "closing"},
	{"rename", 0, "renaming"},
	{"syncdir", 0, "syncing folder"},
}

// faultStepsSyncFS are the points of failure of an Add with Sync
// "filesystem": the syncfs after writing (the data), and the one after
// the rename (the name), instead of the two fsyncs.
var faultStepsSyncFS = []faultStep{
	{"create", 0, "creating temp file"},
	{"write", 0, "writing"},
	{"close", 0, "closing"},
	{"syncfs", 0, "syncing the file system of"},
	{"rename", 0, "renaming"},
	{"syncfs", 1, "syncing folder"},
}

// faultStep fails the skip+1st op in a folder; the error says step.
type faultStep struct {
	op   string
	skip int
	step string
}

// openFaulty opens a queue on a faultFS that fails nothing yet, with one
// message in it that has been updated once (so it has a meta/ record: the
// store appends no records to queue files).
func openFaulty(t *testing.T) (*Store, *faultFS, *Message) {
	t.Helper()
	return openFaultyWith(t, SyncFile)
}

func openFaultyWith(t *testing.T, mode Sync) (*Store, *faultFS, *Message) {
	t.Helper()
	skipWithoutSyncFS(t, mode)
	ffs := &faultFS{}
	s, rec, err := openWith(filepath.Join(t.TempDir(), "queue"), ffs, Options{Sync: mode})
	if err == nil && rec.Sync != mode {
		t.Fatalf("queue opened with sync %v, want %v", rec.Sync, mode)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.recordsMax = 0
	m := addT(t, s, "before")
	if err := s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	return s, ffs, m
}

func TestAddFailures(t *testing.T) {
	for mode, steps := range map[Sync][]faultStep{SyncFile: faultSteps, SyncFileSystem: faultStepsSyncFS} {
		for _, p := range steps {
			t.Run(fmt.Sprintf("sync=%v/%s-%d", mode, p.op, p.skip), func(t *testing.T) { testAddFailure(t, mode, p) })
		}
	}
}

func testAddFailure(t *testing.T, mode Sync, p faultStep) {
	s, ffs, old := openFaultyWith(t, mode)
	before := files(t, s.Dir())
	ffs.op, ffs.dir, ffs.skip = p.op, "msg", p.skip

	m, err := s.Add(testEnvelope(), strings.NewReader("lost?"))
	if !ffs.fired {
		t.Fatal("the fault was not reached")
	}
	if !errors.Is(err, ErrStorage) || !errors.Is(err, errInjected) || m != nil {
		t.Fatalf("Add = %v, %v; want nil and an error wrapping ErrStorage", m, err)
	}
	if !strings.Contains(err.Error(), p.step) || !strings.Contains(err.Error(), "msg") {
		t.Errorf("error %q does not say %q in msg/", err, p.step)
	}
	t.Log(err)
	if after := files(t, s.Dir()); !slices.Equal(after, before) {
		t.Errorf("files after the failed Add %v, want %v", after, before)
	}

	// The store still works, and a re-Open finds nothing to repair.
	m = addT(t, s, "after")
	s, rec := reopen(t, s)
	if rec.Resumed != 2 || len(rec.RemovedPartial)+len(rec.Quarantined) != 0 {
		t.Errorf("Recovery after = %+v, want 2 resumed only", rec)
	}
	for id, want := range map[string]string{old.ID: "before", m.ID: "after"} {
		if got := readContent(t, s, id); got != want {
			t.Errorf("content of %s = %q, want %q", id, got, want)
		}
	}
}

func TestUpdateFailures(t *testing.T) {
	for _, p := range faultSteps {
		t.Run(p.op, func(t *testing.T) {
			s, ffs, m := openFaulty(t)
			before := files(t, s.Dir())
			ffs.op, ffs.dir = p.op, "meta"

			err := s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts = 7; return nil })
			if !errors.Is(err, ErrStorage) || !errors.Is(err, errInjected) {
				t.Fatalf("Update = %v, want an error wrapping ErrStorage", err)
			}
			if after := files(t, s.Dir()); !slices.Equal(after, before) {
				t.Errorf("files after the failed Update %v, want %v", after, before)
			}
			got, err := s.Get(m.ID)
			if err != nil {
				t.Fatal(err)
			}
			// Only a failed folder fsync leaves the new record in place
			// (not known to be durable).
			if want := map[bool]int{true: 7, false: 1}[p.op == "syncdir"]; got.Recipients[0].Attempts != want {
				t.Errorf("Attempts = %d after the failed Update, want %d", got.Recipients[0].Attempts, want)
			}
			if err := s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts = 8; return nil }); err != nil {
				t.Fatalf("Update after the failure: %v", err)
			}
		})
	}
}

// An appended record (append.go) fails at opening the queue file, writing,
// fsyncing or closing it: Update returns the error and the old record is
// the last one, the file cut back to what it was, but for a failed close
// (the record was flushed before).
func TestAppendFailures(t *testing.T) {
	for mode, ops := range map[Sync][]string{SyncFile: {"append", "write", "sync", "close"}, SyncFileSystem: {"append", "write", "syncfs", "close"}} {
		for _, op := range ops {
			t.Run(fmt.Sprintf("sync=%v/%s", mode, op), func(t *testing.T) { testAppendFailure(t, mode, op) })
		}
	}
}

func testAppendFailure(t *testing.T, mode Sync, op string) {
	skipWithoutSyncFS(t, mode)
	ffs := &faultFS{}
	s, _, err := openWith(filepath.Join(t.TempDir(), "queue"), ffs, Options{Sync: mode})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	m := addT(t, s, "before")
	if err := s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(s.msgPath(m.ID))
	before := files(t, s.Dir())
	ffs.op, ffs.dir = op, "msg"

	err = s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts = 7; return nil })
	if !ffs.fired {
		t.Fatal("the fault was not reached")
	}
	if !errors.Is(err, ErrStorage) || !errors.Is(err, errInjected) {
		t.Fatalf("Update = %v, want an error wrapping ErrStorage", err)
	}
	t.Log(err)
	if after := files(t, s.Dir()); !slices.Equal(after, before) {
		t.Errorf("files after the failed Update %v, want %v", after, before)
	}
	after, _ := os.ReadFile(s.msgPath(m.ID))
	if op != "close" && !bytes.Equal(after, raw) {
		t.Errorf("the queue file was not cut back after the failed append: %d bytes, was %d", len(after), len(raw))
	}
	got, err := s.Get(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[bool]int{true: 7, false: 1}[op == "close"]; got.Recipients[0].Attempts != want {
		t.Errorf("Attempts = %d after the failed Update, want %d", got.Recipients[0].Attempts, want)
	}
	if err := s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts = 8; return nil }); err != nil {
		t.Fatalf("Update after the failure: %v", err)
	}
	s, _ = reopen(t, s)
	if got, err := s.Get(m.ID); err != nil || got.Recipients[0].Attempts != 8 {
		t.Errorf("after a re-Open: %+v, %v; want 8 attempts", got, err)
	}
	if c := readContent(t, s, m.ID); c != "before" {
		t.Errorf("content = %q", c)
	}
}

func TestRemoveFailures(t *testing.T) {
	// No fsync follows a removal (doc.go, "Removal"): the next Open
	// removes a record left without a queue file.
	for _, p := range []struct{ op, dir string }{{"remove", "msg"}, {"remove", "meta"}} {
		t.Run(p.op+"-"+p.dir, func(t *testing.T) {
			s, ffs, m := openFaulty(t)
			ffs.op, ffs.dir = p.op, p.dir
			err := s.Remove(m.ID)
			if !errors.Is(err, ErrStorage) || !errors.Is(err, errInjected) {
				t.Fatalf("Remove = %v, want an error wrapping ErrStorage", err)
			}
			_, err = s.Get(m.ID)
			if p.op == "remove" && p.dir == "msg" {
				if err != nil {
					t.Errorf("Get after a failed removal of the queue file: %v, want the message still there", err)
				}
				return
			}
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after the queue file was removed: %v, want ErrNotFound", err)
			}
			// The record left behind is a partial Remove to the next Open.
			_, rec := reopen(t, s)
			if rec.Resumed != 0 || len(rec.Quarantined) != 0 || !slices.Equal(rec.RemovedPartial, []string{"meta/" + m.ID + ".json"}) {
				t.Errorf("Recovery = %+v, want the record removed", rec)
			}
			if got := files(t, s.Dir()); len(got) != 0 {
				t.Errorf("files left after re-Open: %v", got)
			}
		})
	}
}

// Removal fsyncs no folder: a failing fsync of msg/ or meta/ does not
// reach it, and the message is gone.
func TestRemoveNoFsync(t *testing.T) {
	for _, dir := range []string{"msg", "meta"} {
		t.Run(dir, func(t *testing.T) {
			s, ffs, m := openFaulty(t)
			ffs.op, ffs.dir = "syncdir", dir
			if err := s.Remove(m.ID); err != nil {
				t.Fatalf("Remove = %v, want nil", err)
			}
			if ffs.fired {
				t.Errorf("Remove fsynced %s/", dir)
			}
			if _, err := s.Get(m.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after Remove: %v, want ErrNotFound", err)
			}
			if got := files(t, s.Dir()); len(got) != 0 {
				t.Errorf("files left after Remove: %v", got)
			}
		})
	}
}

// skipWithoutSyncFS skips a test of Sync "filesystem" where there is no
// syncfs(2): it is Linux's.
func skipWithoutSyncFS(t *testing.T, mode Sync) {
	if mode == SyncFileSystem && runtime.GOOS != "linux" {
		t.Skip("syncfs(2) is Linux's")
	}
}
