package queue

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every write, fsync, close and rename of Add, in both folders, is a
// point where the disk may fail.
var faultPoints = []struct{ op, dir, step string }{
	{"create", "msg", "creating temp file"},
	{"write", "msg", "writing"},
	{"sync", "msg", "syncing"},
	{"close", "msg", "closing"},
	{"rename", "msg", "renaming"},
	{"syncdir", "msg", "syncing folder"},
	{"create", "meta", "creating temp file"},
	{"write", "meta", "writing"},
	{"sync", "meta", "syncing"},
	{"close", "meta", "closing"},
	{"rename", "meta", "renaming"},
	{"syncdir", "meta", "syncing folder"},
}

// openFaulty opens a queue on a faultFS that fails nothing yet, with one
// message in it.
func openFaulty(t *testing.T) (*Store, *faultFS, *Message) {
	t.Helper()
	ffs := &faultFS{}
	s, _, err := open(filepath.Join(t.TempDir(), "queue"), ffs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ffs, addT(t, s, "before")
}

func TestAddFailures(t *testing.T) {
	for _, p := range faultPoints {
		t.Run(p.op+"-"+p.dir, func(t *testing.T) {
			s, ffs, old := openFaulty(t)
			before := files(t, s.Dir())
			ffs.op, ffs.dir = p.op, p.dir

			m, err := s.Add(testEnvelope(), strings.NewReader("lost?"))
			if !ffs.fired {
				t.Fatal("the fault was not reached")
			}
			if !errors.Is(err, ErrStorage) || !errors.Is(err, errInjected) || m != nil {
				t.Fatalf("Add = %v, %v; want nil and an error wrapping ErrStorage", m, err)
			}
			if !strings.Contains(err.Error(), p.step) || !strings.Contains(err.Error(), p.dir) {
				t.Errorf("error %q does not say %q in %s/", err, p.step, p.dir)
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
		})
	}
}

func TestUpdateFailures(t *testing.T) {
	for _, p := range faultPoints[6:] { // Update writes meta/ only
		t.Run(p.op, func(t *testing.T) {
			s, ffs, m := openFaulty(t)
			before := files(t, s.Dir())
			ffs.op, ffs.dir = p.op, p.dir

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
			if want := map[bool]int{true: 7, false: 0}[p.op == "syncdir"]; got.Recipients[0].Attempts != want {
				t.Errorf("Attempts = %d after the failed Update, want %d", got.Recipients[0].Attempts, want)
			}
			if err := s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts = 8; return nil }); err != nil {
				t.Fatalf("Update after the failure: %v", err)
			}
		})
	}
}

func TestRemoveFailures(t *testing.T) {
	// No fsync of msg/ follows the content's removal: the next Open
	// removes content left without a record.
	for _, p := range []struct{ op, dir string }{{"remove", "meta"}, {"syncdir", "meta"}, {"remove", "msg"}} {
		t.Run(p.op+"-"+p.dir, func(t *testing.T) {
			s, ffs, m := openFaulty(t)
			ffs.op, ffs.dir = p.op, p.dir
			err := s.Remove(m.ID)
			if !errors.Is(err, ErrStorage) || !errors.Is(err, errInjected) {
				t.Fatalf("Remove = %v, want an error wrapping ErrStorage", err)
			}
			_, err = s.Get(m.ID)
			if p.op == "remove" && p.dir == "meta" {
				if err != nil {
					t.Errorf("Get after a failed record removal: %v, want the message still there", err)
				}
				return
			}
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after the record was removed: %v, want ErrNotFound", err)
			}
			// A content file left behind is a partial write to the next Open.
			_, rec := reopen(t, s)
			if rec.Resumed != 0 || len(rec.Quarantined) != 0 || len(rec.RemovedPartial) > 1 {
				t.Errorf("Recovery = %+v", rec)
			}
			if got := files(t, s.Dir()); len(got) != 0 {
				t.Errorf("files left after re-Open: %v", got)
			}
		})
	}
}
