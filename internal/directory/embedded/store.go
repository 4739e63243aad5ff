package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/durable"
)

// FileName is the store's file in a hub's data folder.
const FileName = "directory.db"

// Buckets: entries by id; the id of each lookup key; and an index of
// "TYPE\x00id" for the entries that have an address of each type.
var (
	bucketEntries = []byte("entries")
	bucketKeys    = []byte("keys")
	bucketTypes   = []byte("types")
)

// ErrInUse says that another process holds the file: the hub (for a
// change) or another `waypost directory` command that changes it.
var ErrInUse = errors.New("the directory file is in use")

// Store is an embedded directory. It implements directory.Directory.
type Store struct {
	db       *bolt.DB
	path     string
	readOnly bool

	mu      sync.Mutex // guards the cached types of a read-only store
	types   []string
	version string

	// A read-only store cannot change while it is open (a writer needs
	// the exclusive lock), so it keeps one read transaction for its whole
	// life: lookups skip beginning and ending one each time. bbolt's
	// read-only buckets and cursors read the memory map and nothing else.
	rtx                    *bolt.Tx
	rentries, rkeys, rtype *bolt.Bucket
}

var _ directory.Directory = (*Store)(nil)

// Options of Open.
type Options struct {
	// ReadOnly takes a shared lock: readers (the hub, `directory show`)
	// run side by side; a writer waits for them all.
	ReadOnly bool
	// Wait is how long to wait for the lock (default 2 seconds).
	Wait time.Duration
}

// folderFS makes the store's folder and the name of a new file durable;
// tests record what it does.
var folderFS = durable.OS

// Open opens (creating when missing) the store at path.
func Open(path string, opt Options) (*Store, error) {
	if opt.Wait == 0 {
		opt.Wait = 2 * time.Second
	}
	if err := durable.MkdirAll(folderFS, filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("embedded directory: %w", err)
	}
	_, statErr := os.Stat(path)
	if errors.Is(statErr, os.ErrNotExist) && opt.ReadOnly {
		// A read-only open cannot create the file: create it first.
		s, err := Open(path, Options{Wait: opt.Wait})
		if err != nil {
			return nil, err
		}
		s.Close()
	}
	bo := &bolt.Options{ReadOnly: opt.ReadOnly, Timeout: opt.Wait, FreelistType: bolt.FreelistMapType}
	if !opt.ReadOnly {
		// Address space only: a large import then never remaps the file
		// in the middle of its transaction (each remap copies every
		// changed node).
		bo.InitialMmapSize = 4 << 30
	}
	db, err := bolt.Open(path, 0o600, bo)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is locked by another process", ErrInUse, path)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded directory %s: %w", path, err)
	}
	if errors.Is(statErr, os.ErrNotExist) && !opt.ReadOnly {
		// bbolt fsyncs the file it creates but not its name: without an
		// fsync of the folder a power cut may lose the whole directory
		// (docs/architecture.md, "Power cuts").
		if err := folderFS.SyncDir(filepath.Dir(path)); err != nil {
			db.Close()
			return nil, fmt.Errorf("embedded directory %s: %w", path, err)
		}
	}
	s := &Store{db: db, path: path, readOnly: opt.ReadOnly}
	if opt.ReadOnly {
		if s.rtx, err = db.Begin(false); err != nil {
			db.Close()
			return nil, fmt.Errorf("embedded directory %s: %w", path, err)
		}
		s.rentries, s.rkeys, s.rtype = s.rtx.Bucket(bucketEntries), s.rtx.Bucket(bucketKeys), s.rtx.Bucket(bucketTypes)
		if s.rentries == nil || s.rkeys == nil || s.rtype == nil {
			s.Close()
			return nil, fmt.Errorf("embedded directory %s: %w (its buckets are missing)", path, errCorrupt)
		}
	}
	if !opt.ReadOnly {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketEntries, bucketKeys, bucketTypes} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("embedded directory %s: %w", path, err)
		}
	}
	return s, nil
}

// Path returns the file of the store.
func (s *Store) Path() string { return s.path }

// Close releases the file and its lock.
func (s *Store) Close() error {
	if s.rtx != nil {
		s.rtx.Rollback()
	}
	return s.db.Close()
}

// view runs f in a read transaction; a store without buckets (a file
// being created) reads as empty.
func (s *Store) view(f func(entries, keys, types *bolt.Bucket) error) error {
	if s.rtx != nil {
		return f(s.rentries, s.rkeys, s.rtype)
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return fmt.Errorf("embedded directory %s: %w", s.path, err)
	}
	defer tx.Rollback()
	e, k, t := tx.Bucket(bucketEntries), tx.Bucket(bucketKeys), tx.Bucket(bucketTypes)
	if e == nil || k == nil || t == nil {
		return nil
	}
	return f(e, k, t)
}

func idBytes(id uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	return b[:]
}

func idString(b []byte) string { return "db:" + strconv.FormatUint(binary.BigEndian.Uint64(b), 10) }

// get decodes the entry stored under id.
func get(entries *bolt.Bucket, id []byte) (*directory.Entry, error) {
	v := entries.Get(id)
	if v == nil {
		return nil, fmt.Errorf("%w (an index names an entry that is not there)", errCorrupt)
	}
	e, err := decode(v)
	if err != nil {
		return nil, err
	}
	e.ID = idString(id)
	return e, nil
}

// Find implements directory.Directory. It is the hot path of routing: one
// read transaction, the key index, then the entry.
func (s *Store) Find(a address.Address) (*directory.Entry, error) {
	key, alt := directory.LookupKeys(a)
	if s.rtx != nil {
		return find(s.rentries, s.rkeys, key, alt)
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("embedded directory %s: %w", s.path, err)
	}
	defer tx.Rollback()
	return find(tx.Bucket(bucketEntries), tx.Bucket(bucketKeys), key, alt)
}

func find(entries, keys *bolt.Bucket, key, alt string) (*directory.Entry, error) {
	if keys == nil {
		return nil, nil
	}
	id := keys.Get([]byte(key))
	if id == nil && alt != "" {
		id = keys.Get([]byte(alt))
	}
	if id == nil {
		return nil, nil
	}
	if entries == nil {
		return nil, errCorrupt
	}
	return get(entries, id)
}

// Lookup implements directory.Directory.
func (s *Store) Lookup(a address.Address) *directory.Entry {
	e, _ := s.Find(a)
	return e
}

// Walk implements directory.Directory: entries in the order they were added.
func (s *Store) Walk(f func(*directory.Entry) bool) error {
	return s.view(func(entries, _, _ *bolt.Bucket) error {
		c := entries.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			e, err := decode(v)
			if err != nil {
				return err
			}
			e.ID = idString(k)
			if !f(e) {
				return nil
			}
		}
		return nil
	})
}

// Entries implements directory.Directory.
func (s *Store) Entries() []*directory.Entry {
	var out []*directory.Entry
	if s.Walk(func(e *directory.Entry) bool { out = append(out, e); return true }) != nil {
		return nil
	}
	return out
}

// Len returns the number of entries.
func (s *Store) Len() (int, error) {
	n := 0
	err := s.view(func(entries, _, _ *bolt.Bucket) error {
		n = entries.Stats().KeyN
		return nil
	})
	return n, err
}

// Types implements directory.Directory. It jumps from type to type in the
// type index, so it costs a few seeks, not a scan. A read-only store (the
// hub's) cannot change while open, so its answer is kept.
func (s *Store) Types() ([]string, string, error) {
	if s.readOnly {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.types != nil {
			return s.types, s.version, nil
		}
	}
	types := []string{}
	err := s.view(func(_, _, tb *bolt.Bucket) error {
		c := tb.Cursor()
		for k, _ := c.First(); k != nil; {
			i := bytes.IndexByte(k, 0)
			if i < 0 {
				return errCorrupt
			}
			t := string(k[:i])
			types = append(types, t)
			k, _ = c.Seek(append([]byte(t), 1))
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	v := directory.TypesVersion(types)
	if s.readOnly {
		s.types, s.version = types, v
	}
	return types, v, nil
}

// EachWithType implements directory.Directory.
func (s *Store) EachWithType(typ string, f func(*directory.Entry) bool) error {
	prefix := append([]byte(typ), 0)
	return s.view(func(entries, _, tb *bolt.Bucket) error {
		c := tb.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			e, err := get(entries, k[len(prefix):])
			if err != nil {
				return err
			}
			if !f(e) {
				return nil
			}
		}
		return nil
	})
}

// Authenticate implements directory.Directory with the entry's bcrypt
// password hash.
func (s *Store) Authenticate(user, password string) (*directory.Entry, error) {
	e, err := s.Find(address.Address{Type: "SMTP", Value: user})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", directory.ErrUnavailable, err)
	}
	return directory.CheckPassword(e, password)
}

// ConflictError says that an address of a new entry already belongs to
// another.
type ConflictError struct {
	Address string
	Owner   string // name of the entry that has it
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("address %s already belongs to %q", e.Address, e.Owner)
}

// Add stores e (checked with Check) as a new entry and returns its ID. An
// address that another entry has is a *ConflictError.
func (s *Store) Add(e *directory.Entry) (string, error) {
	if err := Check(e); err != nil {
		return "", err
	}
	var id string
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		id, err = put(tx, e)
		return err
	})
	return id, err
}

func put(tx *bolt.Tx, e *directory.Entry) (string, error) {
	entries, keys, types := tx.Bucket(bucketEntries), tx.Bucket(bucketKeys), tx.Bucket(bucketTypes)
	for _, p := range e.Addresses {
		if id := keys.Get([]byte(p.Key())); id != nil {
			owner, err := get(entries, id)
			if err != nil {
				return "", err
			}
			return "", &ConflictError{Address: p.String(), Owner: owner.Name}
		}
	}
	n, err := entries.NextSequence()
	if err != nil {
		return "", err
	}
	id := idBytes(n)
	if err := entries.Put(id, encode(e)); err != nil {
		return "", err
	}
	for _, p := range e.Addresses {
		if err := keys.Put([]byte(p.Key()), id); err != nil {
			return "", err
		}
		if err := types.Put(typeKey(p.Type, id), nil); err != nil {
			return "", err
		}
	}
	return idString(id), nil
}

func typeKey(typ string, id []byte) []byte {
	k := make([]byte, 0, len(typ)+1+len(id))
	k = append(k, typ...)
	k = append(k, 0)
	return append(k, id...)
}

// Remove deletes the entry that has address a and returns it; nil when
// there is none.
func (s *Store) Remove(a address.Address) (*directory.Entry, error) {
	key, alt := directory.LookupKeys(a)
	var out *directory.Entry
	err := s.db.Update(func(tx *bolt.Tx) error {
		entries, keys, types := tx.Bucket(bucketEntries), tx.Bucket(bucketKeys), tx.Bucket(bucketTypes)
		id := keys.Get([]byte(key))
		if id == nil && alt != "" {
			id = keys.Get([]byte(alt))
		}
		if id == nil {
			return nil
		}
		id = bytes.Clone(id)
		e, err := get(entries, id)
		if err != nil {
			return err
		}
		for _, p := range e.Addresses {
			if err := keys.Delete([]byte(p.Key())); err != nil {
				return err
			}
			if err := types.Delete(typeKey(p.Type, id)); err != nil {
				return err
			}
		}
		out = e
		return entries.Delete(id)
	})
	return out, err
}

// Check validates an entry as the organization file's [[recipient]]
// entries are validated: a kind, a name, addresses; a mailbox's home
// server, a contact's target, a group's members in address syntax; a
// bcrypt or argon2id password hash.
func Check(e *directory.Entry) error {
	var probs []string
	switch e.Kind {
	case directory.Mailbox:
		if e.Server == "" {
			probs = append(probs, "a mailbox needs a home server")
		}
	case directory.Contact:
		if e.Target == nil {
			probs = append(probs, "a contact needs a target address")
		}
	case directory.Group:
	default:
		probs = append(probs, fmt.Sprintf("unknown kind %q (use mailbox, contact or group)", e.Kind))
	}
	if strings.TrimSpace(e.Name) == "" {
		probs = append(probs, "the entry has no name")
	}
	if e.Kind != directory.Mailbox && e.Server != "" {
		probs = append(probs, "only mailboxes have a home server")
	}
	if e.Kind != directory.Contact && e.Target != nil {
		probs = append(probs, "only contacts have a target")
	}
	if e.Kind != directory.Group && len(e.Members) > 0 {
		probs = append(probs, "only groups have members")
	}
	if len(e.Addresses) == 0 {
		probs = append(probs, "the entry has no addresses")
	}
	seen := map[string]bool{}
	for _, p := range e.Addresses {
		if k := p.Key(); seen[k] {
			probs = append(probs, fmt.Sprintf("address %s is listed twice", p))
		} else {
			seen[k] = true
		}
	}
	for _, m := range e.Members {
		if _, err := address.Parse(m, nil); err != nil {
			probs = append(probs, fmt.Sprintf("member %q: %v", m, err))
		}
	}
	if h := e.PasswordHash; h != "" && !strings.HasPrefix(h, "$2a$") && !strings.HasPrefix(h, "$2b$") && !strings.HasPrefix(h, "$2y$") && !strings.HasPrefix(h, "$argon2id$") {
		probs = append(probs, `the password hash is not bcrypt or argon2id (use the output of "waypost passwd")`)
	}
	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "; "))
	}
	return nil
}
