package queue

import (
	"errors"
	"sync/atomic"

	"github.com/waypost/waypost/internal/durable"
)

// Options are the choices of OpenWith.
type Options struct {
	// Scan, when not nil, is called by the recovery of Open with every
	// valid message, oldest first as far as the folder lists them: the
	// one pass over the queue that a scheduler keeping its index in
	// memory needs (no second reading of the records after Open).
	Scan func(m *Message)
	// Fault, when not nil, is asked before each write, fsync, rename and
	// remove of the queue's files and fails it by returning an error (a
	// full disk, in tests of the layers above; see FaultOps).
	Fault func(op, path string) error
	// Sync is how new files are made durable; the zero value is SyncFile.
	// Recovery.Sync says which mode auto chose.
	Sync Sync
	// FS, when not nil, takes every change to the queue folder, as with
	// OpenFS.
	FS durable.FS
}

// FaultOps are the operations Options.Fault is asked about: creating (or
// reusing: reuse.go), writing, fsyncing, closing and renaming a temp
// file, opening a queue file to append a record to it (append.go), removing
// a file (a rename to msg/free-ID when its file is kept for reuse, then a
// remove if that fails), fsyncing a folder, and with Sync "filesystem"
// the syncfs of the file system that stands for both fsyncs of a new
// file. An appended record is written, fsynced and closed as a temp file
// is ("write", "sync", "close").
var FaultOps = []string{"create", "write", "sync", "close", "rename", "append", "remove", "syncdir", "syncfs"}

// OpenWith is Open with options.
func OpenWith(dir string, o Options) (*Store, *Recovery, error) {
	var fs fsys = osFS{}
	if o.FS != nil {
		fs = durableFS{o.FS}
	}
	if o.Fault != nil {
		fs = &hookFS{fsys: fs, fault: o.Fault}
	}
	return openWith(dir, fs, o)
}

// readCounts counts what reads the queue folder: listings of msg/ and
// records decoded (Get, List, Update, Open and recovery).
type readCounts struct {
	listings, decodes atomic.Int64
}

// Reads returns how often the folder msg/ was listed and how many
// records were decoded since Open (recovery included), so that a
// scheduler can show that it reads nothing after start-up.
func (s *Store) Reads() (listings, decodes int64) {
	return s.reads.listings.Load(), s.reads.decodes.Load()
}

// Scan calls fn with every valid message, one at a time (the folder is
// listed once; records are read as fn asks for the next), and stops at
// the first error of fn, which it returns. Records that are not valid are
// skipped and reported in the error after the scan, as List does.
func (s *Store) Scan(fn func(m *Message) error) error {
	ids, err := s.listIDs()
	if err != nil {
		return err
	}
	var bad []error
	for _, id := range ids {
		m, err := s.read(id)
		switch {
		case err == nil:
			if err := fn(m); err != nil {
				return err
			}
		case errors.Is(err, ErrNotFound): // removed meanwhile
		default:
			bad = append(bad, err)
		}
	}
	return errors.Join(bad...)
}
