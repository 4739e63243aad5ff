package queue

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Store is an open queue folder. See the package documentation for the
// layout and the durability contract.
type Store struct {
	dir        string
	msgDir     string
	metaDir    string
	quarantine string

	fs    fsys
	idgen idGen
	now   func() time.Time
	lock  *os.File // nil where locking is not supported

	seed  maphash.Seed
	locks [64]sync.Mutex // Update and Remove of one ID, by hash of the ID
}

// Open opens the queue in dir, creating dir and its msg, meta and
// quarantine folders (mode 0700) as needed, locks it against other
// processes, and recovers from a crash (see the package documentation).
// The Recovery says what was found; callers should log it.
func Open(dir string) (*Store, *Recovery, error) {
	return open(dir, osFS{})
}

func open(dir string, fsys fsys) (*Store, *Recovery, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("queue: folder %q: %w", dir, err)
	}
	s := &Store{
		dir:        abs,
		msgDir:     filepath.Join(abs, "msg"),
		metaDir:    filepath.Join(abs, "meta"),
		quarantine: filepath.Join(abs, "quarantine"),
		fs:         fsys,
		now:        time.Now,
		seed:       maphash.MakeSeed(),
	}
	// Make the folders themselves durable before anything goes in them
	// (the parent only when dir is new: it may not be readable).
	syncs := []string{abs}
	if _, err := os.Stat(abs); err != nil {
		syncs = append(syncs, filepath.Dir(abs))
	}
	for _, d := range []string{abs, s.msgDir, s.metaDir, s.quarantine} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, nil, storageErr("creating folder", d, err)
		}
	}
	for _, d := range syncs {
		if err := s.fs.SyncDir(d); err != nil {
			return nil, nil, storageErr("syncing folder", d, err)
		}
	}
	if s.lock, err = lockDir(abs); err != nil {
		return nil, nil, err
	}
	rec, err := s.recover()
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, rec, nil
}

// Close releases the lock on the folder. The Store must not be used after.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close() // closing the file releases the flock
	s.lock = nil
	return err
}

// Dir returns the absolute path of the queue folder.
func (s *Store) Dir() string { return s.dir }

func (s *Store) msgPath(id string) string  { return filepath.Join(s.msgDir, id) }
func (s *Store) metaPath(id string) string { return filepath.Join(s.metaDir, id+metaExt) }

// idLock returns the mutex that serializes changes to id.
func (s *Store) idLock(id string) *sync.Mutex {
	return &s.locks[maphash.String(s.seed, id)%uint64(len(s.locks))]
}

// Open opens the content of message id for reading.
func (s *Store) Open(id string) (*os.File, error) {
	if !validID(id) {
		return nil, fmt.Errorf("queue: %q is not a queue ID: %w", id, ErrNotFound)
	}
	f, err := os.Open(s.msgPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("queue: content of %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: opening content of %s: %w", id, err)
	}
	return f, nil
}

// Get returns the metadata of message id. An error wraps ErrNotFound if
// there is no such message and ErrCorrupt if its record is not valid.
func (s *Store) Get(id string) (*Message, error) {
	if !validID(id) {
		return nil, fmt.Errorf("queue: %q is not a queue ID: %w", id, ErrNotFound)
	}
	return s.read(id)
}

// read reads and parses the record of id.
func (s *Store) read(id string) (*Message, error) {
	p := s.metaPath(id)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("queue: %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: reading %s: %w", p, err)
	}
	return decodeRecord(p, id, data)
}

// List returns every valid message, oldest first (in ID order, which is
// the order of Add). Messages removed while List runs are left out. A
// record that is not valid is left out too, and List then also returns an
// error wrapping ErrCorrupt that names each one (the next Open quarantines
// them); the messages returned are still good.
func (s *Store) List() ([]*Message, error) {
	ids, err := s.listIDs()
	if err != nil {
		return nil, err
	}
	out := make([]*Message, 0, len(ids))
	var bad []error
	for _, id := range ids {
		m, err := s.read(id)
		switch {
		case err == nil:
			out = append(out, m)
		case errors.Is(err, ErrNotFound): // removed meanwhile
		default:
			bad = append(bad, err)
		}
	}
	return out, errors.Join(bad...)
}

// listIDs returns the IDs that have a metadata record, sorted.
func (s *Store) listIDs() ([]string, error) {
	entries, err := os.ReadDir(s.metaDir)
	if err != nil {
		return nil, fmt.Errorf("queue: listing %s: %w", s.metaDir, err)
	}
	var ids []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), metaExt); ok && validID(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
