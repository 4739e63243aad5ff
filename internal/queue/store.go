package queue

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waypost/waypost/internal/dirlock"
	"github.com/waypost/waypost/internal/durable"
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

	// metas holds the IDs that may have a record in meta/: those found
	// there by recovery, and those an Update is writing or has written.
	// Every other message's record is in its queue file, so reading it
	// needs no look in meta/.
	metas sync.Map
	// recordsMax is the room a queue file's records may take with an
	// appended one (append.go); tests lower it to reach meta/.
	recordsMax int64

	dirSyncs dirSyncs    // group commit of folder fsyncs (dirsync.go)
	pool     filePool    // removed queue files kept for reuse (reuse.go)
	noSpace  atomic.Bool // the last write failed for want of space: nothing kept (reuse.go)

	scan  func(*Message) // called by recovery for each valid message (OpenWith)
	reads readCounts
}

// Open opens the queue in dir, creating dir and its msg, meta and
// quarantine folders (mode 0700) as needed, locks it against other
// processes, and recovers from a crash (see the package documentation).
// The Recovery says what was found; callers should log it.
func Open(dir string) (*Store, *Recovery, error) {
	return open(dir, osFS{})
}

func open(dir string, fsys fsys) (*Store, *Recovery, error) {
	return openWith(dir, fsys, Options{})
}

func openWith(dir string, fsys fsys, o Options) (*Store, *Recovery, error) {
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
		recordsMax: recordsMax,
		seed:       maphash.MakeSeed(),
		scan:       o.Scan,
	}
	// Make the folders themselves durable before anything goes in them:
	// MkdirAll fsyncs the folder holding each one it creates (the parent
	// of dir only when dir is new: it may not be readable), and dir is
	// synced again in case an earlier process died before it did.
	for _, d := range []string{s.msgDir, s.metaDir, s.quarantine} {
		if err := durable.MkdirAll(folderFS(fsys), d, 0o700); err != nil {
			return nil, nil, fmt.Errorf("queue: %w: %w", ErrStorage, err) // err names the folder
		}
	}
	if err := s.fs.SyncDir(abs); err != nil {
		return nil, nil, storageErr("syncing folder", abs, err)
	}
	if s.lock, err = dirlock.TryLock(abs); err != nil {
		if errors.Is(err, dirlock.ErrLocked) {
			return nil, nil, fmt.Errorf("queue: %s: %w", abs, ErrLocked)
		}
		return nil, nil, fmt.Errorf("queue: %w: %w", ErrStorage, err) // err names the lock file
	}
	mode, why, err := chooseSync(fsys, abs, o.Sync)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	if sf, ok := fsys.(syncFSer); ok && mode == SyncFileSystem {
		for _, d := range []string{s.msgDir, s.metaDir} {
			syncer, err := sf.openSyncFS(d)
			if err != nil {
				s.Close()
				return nil, nil, storageErr("opening for syncfs", d, err)
			}
			s.dirSyncs.setSyncer(fsys, d, syncer)
		}
	}
	clean, err := s.takeCleanStop()
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	rec, err := s.recover()
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	rec.Clean = clean
	rec.Sync, rec.SyncWhy = mode, why
	return s, rec, nil
}

// cleanStop is the file CloseClean leaves in the queue folder for the
// next Open (Recovery.Clean), which removes it.
const cleanStop = "clean-stop"

// CloseClean is Close at the end of a clean stop: the next Open reports
// Recovery.Clean. The file saying so is not fsynced: should a power cut
// lose it, the next start takes the stop for a crash, which costs only
// what a crash costs (a hub writes its RECEIVE events of never-attempted
// messages again).
func (s *Store) CloseClean() error {
	err := os.WriteFile(filepath.Join(s.dir, cleanStop), nil, 0o600)
	if err != nil {
		err = fmt.Errorf("queue: noting a clean stop: %w", err)
	}
	return errors.Join(err, s.Close())
}

// Close releases the lock on the folder. The Store must not be used after.
func (s *Store) Close() error {
	err := s.dirSyncs.close()
	if s.lock == nil {
		return err
	}
	err = errors.Join(err, s.lock.Close()) // closing the file releases the flock
	s.lock = nil
	return err
}

// takeCleanStop reports whether the last process closed the queue with
// CloseClean, and removes the file that says so, durably: from now on a
// crash of this process must not pass for a clean stop.
func (s *Store) takeCleanStop() (bool, error) {
	p := filepath.Join(s.dir, cleanStop)
	if _, err := os.Lstat(p); isNotExist(err) {
		return false, nil
	}
	if err := s.fs.Remove(p); err != nil && !isNotExist(err) {
		return false, storageErr("removing", p, err)
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return false, storageErr("syncing folder", s.dir, err)
	}
	return true, nil
}

// Dir returns the absolute path of the queue folder.
func (s *Store) Dir() string { return s.dir }

func (s *Store) msgPath(id string) string  { return filepath.Join(s.msgDir, id) }
func (s *Store) metaPath(id string) string { return filepath.Join(s.metaDir, id+metaExt) }

func (s *Store) mayHaveMeta(id string) bool {
	_, ok := s.metas.Load(id)
	return ok
}

// idLock returns the mutex that serializes changes to id.
func (s *Store) idLock(id string) *sync.Mutex {
	return &s.locks[maphash.String(s.seed, id)%uint64(len(s.locks))]
}

// Content is the content of a queued message, open for reading: the
// first Size bytes of its queue file.
type Content struct {
	*io.SectionReader
	f io.Closer
}

// Close closes the queue file.
func (c *Content) Close() error { return c.f.Close() }

// sizedReader reads a queue file that must hold size bytes of content: a
// read that meets the end of the file before size fails with ErrCorrupt
// (a file shorter than its record says), not a short io.EOF that would
// deliver part of the message as if it were all of it.
type sizedReader struct {
	r    io.ReaderAt
	size int64
	path string
}

func (s sizedReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.r.ReadAt(p, off)
	if err == io.EOF && off+int64(n) < s.size {
		err = corruptErr(s.path, "the file ends at %d bytes, before its content of %d", off+int64(n), s.size)
	}
	return n, err
}

// Open opens the content of message id for reading.
func (s *Store) Open(id string) (*Content, error) {
	if !validID(id) {
		return nil, fmt.Errorf("queue: %q is not a queue ID: %w", id, ErrNotFound)
	}
	f, m, err := s.openRecord(id)
	if err != nil {
		return nil, err
	}
	return &Content{SectionReader: io.NewSectionReader(f, 0, m.Size), f: f}, nil
}

// OpenMessage opens the content of m, a message read from the queue,
// without reading its record again: the content of a message never
// changes, nor its Size. It is an open and nothing else (no stat, no
// fcntl; open_unix.go): a queue file shorter than m.Size is found by the
// read that meets its end, which fails with ErrCorrupt.
func (s *Store) OpenMessage(m *Message) (*Content, error) {
	if !validID(m.ID) {
		return nil, fmt.Errorf("queue: %q is not a queue ID: %w", m.ID, ErrNotFound)
	}
	p := s.msgPath(m.ID)
	f, err := openContent(p)
	if isNotExist(err) {
		return nil, fmt.Errorf("queue: %s: %w", m.ID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: opening %s: %w", p, err)
	}
	return &Content{SectionReader: io.NewSectionReader(sizedReader{f, m.Size, p}, 0, m.Size), f: f}, nil
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
	f, m, err := s.openRecord(id)
	if err != nil {
		return nil, err
	}
	f.Close() // read only
	return m, nil
}

// openRecord opens the queue file of id and reads the message's record:
// meta/ID.json when an Update has written one, else the file's own. It
// checks that the file holds as many bytes of content as the record says.
func (s *Store) openRecord(id string) (*os.File, *Message, error) {
	p := s.msgPath(id)
	f, err := openRead(p)
	if isNotExist(err) {
		return nil, nil, fmt.Errorf("queue: %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("queue: opening %s: %w", p, err)
	}
	m, err := s.readRecord(id, f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, m, nil
}

// readRecord reads the record of id, whose queue file is f.
func (s *Store) readRecord(id string, f *os.File) (*Message, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("queue: reading %s: %w", f.Name(), err)
	}
	return s.parseQueueFile(id, f.Name(), f, fi.Size())
}

// parseQueueFile reads the record of id, whose queue file at path p holds
// size bytes read through f: meta/ID.json when one was written (it
// supersedes the file's records: appends stop once it exists), else the
// file's last record (append.go). It checks that the file holds the
// content the record says: exactly, before the first record; at least,
// before an appended one.
func (s *Store) parseQueueFile(id, p string, f io.ReaderAt, size int64) (*Message, error) {
	s.reads.decodes.Add(1)
	meta := s.metaPath(id)
	data, err := []byte(nil), fs.ErrNotExist
	if s.mayHaveMeta(id) {
		data, err = os.ReadFile(meta)
	}
	if err != nil && !isNotExist(err) {
		return nil, fmt.Errorf("queue: reading %s: %w", meta, err)
	}
	if err == nil {
		m, err := decodeRecord(meta, id, data)
		if err != nil {
			return nil, err
		}
		return m, s.checkContent(id, p, f, size, m)
	}
	m, at, found, err := s.lastRecord(id, p, f, size)
	switch {
	case err != nil:
		return nil, err
	case !found:
		return nil, corruptErr(p, "no record: no trailer line at the end and no %s", meta)
	case at.first && m.Size != at.start, m.Size > at.start:
		return nil, corruptErr(p, "the content has %d bytes, the record says %d", at.start, m.Size)
	}
	return m, nil
}

// checkContent checks that the queue file p holds the content of m, whose
// record is in meta/: exactly when the file's last record is its first
// one, or when it has none (the layout of earlier versions: all content);
// at least, when records were appended. The file's own record is not
// decoded (meta/ supersedes it): its trailer says where it starts. Only a
// torn append at the end (a crash before meta/ took over) makes it search
// back for the last whole record, as lastRecord does.
func (s *Store) checkContent(id, p string, f io.ReaderAt, size int64, m *Message) error {
	content, exact := size, true
	if size >= int64(trailerLen) {
		tr := make([]byte, trailerLen)
		if _, err := f.ReadAt(tr, size-int64(trailerLen)); err != nil {
			return fmt.Errorf("queue: reading %s: %w", p, err)
		}
		if n, first, ok := parseTrailer(tr); ok && n <= size-int64(trailerLen) {
			content, exact = size-int64(trailerLen)-n, first
		} else {
			_, at, found, err := s.searchRecord(id, p, f, size)
			switch {
			case err != nil && !errors.Is(err, ErrCorrupt):
				return err
			case err != nil:
				// Trailers, but no valid record before any: the record
				// in meta/ is the message's; its content must fit.
				exact = false
			case found:
				content, exact = at.start, at.first
			}
		}
	}
	if m.Size > content || exact && m.Size != content {
		return corruptErr(p, "the content has %d bytes, the record says %d", content, m.Size)
	}
	return nil
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

// listIDs returns the IDs that have a queue file, sorted.
func (s *Store) listIDs() ([]string, error) {
	s.reads.listings.Add(1)
	entries, err := os.ReadDir(s.msgDir)
	if err != nil {
		return nil, fmt.Errorf("queue: listing %s: %w", s.msgDir, err)
	}
	var ids []string
	for _, e := range entries {
		if validID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	slices.Sort(ids)
	return ids, nil
}
