package queue

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// Reuse of removed queue files (doc.go, "Reuse"). A delivered message's
// queue file is renamed to msg/free-ID instead of being unlinked, and the
// next Add writes over it instead of creating a new file: creating an
// inode and its blocks, and later freeing them, are the dearest steps of
// a message on ext4 (docs/performance.md).
const (
	freePrefix = "free-" // removed queue files kept for reuse; never the start of an ID
	// poolMax is how many removed files are kept at most; more are
	// unlinked. A few hundred cover the messages delivered between two
	// folder fsyncs of the Adds at any rate; more would only hold space.
	poolMax = 256
	// poolMaxContent: a message with more content is unlinked, not
	// kept, so that the pool never holds more than about 16 MiB.
	poolMaxContent = 60 << 10
)

// filePool is a Store's removed queue files, oldest first.
type filePool struct {
	mu       sync.Mutex
	files    []freeFile
	renaming int // files on their way in, counted against poolMax
}

// freeFile is a removed queue file, kept under path. Its removal (the
// rename from msg/ID) is durable once the msg/ folder fsync of ticket
// has ended; only then may it be written over.
type freeFile struct {
	path   string
	ticket uint64
}

// release takes message id's queue file, of size bytes of content, out
// of msg/: into the pool when there is room and it is small, else
// unlinked. It returns the error of the removal; the message is gone
// when it is nil.
func (s *Store) release(id string, size int64) error {
	p := s.msgPath(id)
	if size < 0 || size > poolMaxContent || s.noSpace.Load() {
		return s.fs.Remove(p) // with the disk full, a removal frees its space
	}
	s.pool.mu.Lock()
	if len(s.pool.files)+s.pool.renaming >= poolMax {
		s.pool.mu.Unlock()
		return s.fs.Remove(p)
	}
	s.pool.renaming++
	s.pool.mu.Unlock()
	free := filepath.Join(s.msgDir, freePrefix+id) // IDs are never used twice
	err := s.fs.Rename(p, free)
	var ticket uint64
	if err == nil {
		ticket = s.dirSyncs.get(s.fs, s.msgDir).ticket()
	}
	s.pool.mu.Lock()
	s.pool.renaming--
	if err == nil {
		s.pool.files = append(s.pool.files, freeFile{path: free, ticket: ticket})
	}
	s.pool.mu.Unlock()
	if err != nil && !isNotExist(err) {
		// The rename itself may want room in the folder: unlink instead.
		err = s.fs.Remove(p)
	}
	return err
}

// reusable returns a pooled file that may be written over now (its
// removal is durable), or "" when there is none. Files whose removal
// may have been lost by a failed fsync are unlinked on the way.
func (s *Store) reusable() string {
	d := s.dirSyncs.get(s.fs, s.msgDir)
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	for len(s.pool.files) > 0 {
		f := s.pool.files[0]
		ok, lost := d.durable(f.ticket)
		if !ok && !lost {
			return "" // the oldest is not durable yet, so none is
		}
		s.pool.files = s.pool.files[1:]
		if ok {
			return f.path
		}
		s.fs.Remove(f.path) // its name may come back as the message's: never written over
	}
	return ""
}

// spaceResult notes the outcome of a write of the queue: while writes
// fail for want of space (ENOSPC, EDQUOT), removed files are unlinked, not
// kept, so that each delivery frees its space at once, and the files kept
// before are unlinked; the next write that succeeds ends that.
func (s *Store) spaceResult(err error) {
	switch {
	case err == nil:
		if s.noSpace.Load() {
			s.noSpace.Store(false)
		}
	case isNoSpace(err):
		s.noSpace.Store(true)
		s.emptyPool()
	}
}

// emptyPool unlinks every pooled file: the disk is full, and the space
// they hold is what the deliveries should free.
func (s *Store) emptyPool() {
	s.pool.mu.Lock()
	files := s.pool.files
	s.pool.files = nil
	s.pool.mu.Unlock()
	for _, f := range files {
		s.fs.Remove(f.path)
	}
}

// createQueueFile opens the file an Add writes its queue file in: a
// pooled file written over from its start when one may be reused
// (reused), else a new temp file.
func (s *Store) createQueueFile() (f file, reused bool, err error) {
	if p := s.reusable(); p != "" {
		f, err := s.fs.Reuse(p)
		if err == nil {
			return f, true, nil
		}
		s.fs.Remove(p)
	}
	f, err = s.fs.CreateTemp(s.msgDir)
	return f, false, err
}

func isFreeName(name string) bool { return strings.HasPrefix(name, freePrefix) }

// isNoSpace reports whether err is a full file system or quota.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
