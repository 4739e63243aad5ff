package queue

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// openT opens a store in dir (a new temp folder if "") and closes it at
// the end of the test.
func openT(t testing.TB, dir string) (*Store, *Recovery) {
	t.Helper()
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "queue") // Open creates it
	}
	s, rec, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, rec
}

// reopen closes s and opens its folder again.
func reopen(t testing.TB, s *Store) (*Store, *Recovery) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openT(t, s.Dir())
}

func testEnvelope() Envelope {
	return Envelope{
		From: "alice@contoso.test",
		Recipients: []Recipient{
			{Written: "Bob <bob@fabrikam.test>", Type: "SMTP", Address: "bob@fabrikam.test",
				ORCPT: "rfc822;bob@fabrikam.test", Notify: "FAILURE,DELAY", NextHop: "Internet"},
			{Written: "[FAX:+1 555 0100]", Type: "FAX", Address: "+1 555 0100", NextHop: "Branch Fax"},
		},
		EnvID:      "env-1",
		Ret:        "HDRS",
		Arrival:    time.Date(2026, 3, 15, 10, 15, 0, 123456789, time.UTC),
		ReceivedBy: "Default",
		Auth:       "alice@contoso.test",
	}
}

func addT(t testing.TB, s *Store, body string) *Message {
	t.Helper()
	m, err := s.Add(testEnvelope(), strings.NewReader(body))
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	return m
}

func readContent(t testing.TB, s *Store, id string) string {
	t.Helper()
	f, err := s.Open(id)
	if err != nil {
		t.Fatalf("Open(%s): %v", id, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// files lists every file under the queue folder but the lock and the
// removed queue files kept for reuse, as sorted
// paths relative to it.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"msg", "meta", "quarantine"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if sub == "msg" && isFreeName(e.Name()) {
				continue // a removed file kept for reuse (reuse.go)
			}
			out = append(out, sub+"/"+e.Name())
		}
	}
	slices.Sort(out)
	return out
}

// faultFS fails the first call of one operation in one folder ("msg" or
// "meta"), once. A path is in a folder when it is the folder or a file in it.
type faultFS struct {
	osFS
	mu      sync.Mutex
	op, dir string
	skip    int // calls of op in dir let through before the one that fails
	fired   bool
}

var errInjected = errors.New("injected failure")

func (f *faultFS) fail(op, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	inDir := filepath.Base(path) == f.dir || filepath.Base(filepath.Dir(path)) == f.dir
	if f.fired || op != f.op || !inDir {
		return nil
	}
	if f.skip > 0 {
		f.skip--
		return nil
	}
	f.fired = true
	return errInjected
}

func (f *faultFS) CreateTemp(dir string) (file, error) {
	if err := f.fail("create", dir); err != nil {
		return nil, err
	}
	of, err := f.osFS.CreateTemp(dir)
	if err != nil {
		return nil, err
	}
	return &faultFile{file: of, fs: f}, nil
}

func (f *faultFS) Reuse(path string) (file, error) {
	if err := f.fail("create", path); err != nil {
		return nil, err
	}
	of, err := f.osFS.Reuse(path)
	if err != nil {
		return nil, err
	}
	return &faultFile{file: of, fs: f}, nil
}

func (f *faultFS) Append(path string) (file, int64, error) {
	if err := f.fail("append", path); err != nil {
		return nil, 0, err
	}
	of, size, err := f.osFS.Append(path)
	if err != nil {
		return nil, 0, err
	}
	return &faultFile{file: of, fs: f}, size, nil
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	if err := f.fail("rename", newpath); err != nil {
		return err
	}
	return f.osFS.Rename(oldpath, newpath)
}

func (f *faultFS) Remove(name string) error {
	if err := f.fail("remove", name); err != nil {
		return err
	}
	return f.osFS.Remove(name)
}

func (f *faultFS) SyncDir(dir string) error {
	if err := f.fail("syncdir", dir); err != nil {
		return err
	}
	return f.osFS.SyncDir(dir)
}

type faultFile struct {
	file
	fs *faultFS
}

func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.fs.fail("write", f.Name()); err != nil {
		return 0, err
	}
	return f.file.Write(p)
}

func (f *faultFile) Sync() error {
	if err := f.fs.fail("sync", f.Name()); err != nil {
		return err
	}
	return f.file.Sync()
}

func (f *faultFile) Close() error {
	if err := f.fs.fail("close", f.Name()); err != nil {
		f.file.Close()
		return err
	}
	return f.file.Close()
}
