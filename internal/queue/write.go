package queue

import (
	"errors"
	"io"
	"path/filepath"
)

// writeFile creates dir/name durably: a temp file in dir is written by
// src, fsynced (fdatasync where the system has it: the data and the size
// are what a new file needs), closed and renamed to name, then dir is
// fsynced by the folder's group commit (dirsync.go), so that writers
// finishing together share one fsync of the folder. With Sync
// "filesystem", the fdatasync and the folder fsync are each a round of the
// group commit's syncfs, shared with the other writers. It
// returns the bytes written. On error the temp file is gone; renamed is
// true when only the folder fsync failed, so that dir/name is in place but
// perhaps not durable and the caller must decide what to do with it.
// Errors of the disk wrap ErrStorage; an error of src's reader is
// returned as it is.
func (s *Store) writeFile(dir, name string, src func(io.Writer) (int64, error)) (n int64, renamed bool, err error) {
	f, err := s.fs.CreateTemp(dir)
	if err != nil {
		s.spaceResult(err)
		return 0, false, storageErr("creating temp file in", dir, err)
	}
	return s.writeOver(f, false, dir, name, src)
}

// writeOver is writeFile into f, a new temp file in dir or, when reused,
// a pooled file of dir written over from its start (reuse.go), which is
// then cut to what was written before it is flushed.
func (s *Store) writeOver(f file, reused bool, dir, name string, src func(io.Writer) (int64, error)) (n int64, renamed bool, err error) {
	defer func() { s.spaceResult(err) }()
	ds := s.dirSyncs.get(s.fs, dir)
	mark := ds.mark()
	tmp := f.Name()
	fail := func(err error) (int64, bool, error) {
		f.Close() // may be closed already; the error does not matter then
		if rerr := s.fs.Remove(tmp); rerr != nil {
			err = errors.Join(err, storageErr("removing temp file", tmp, rerr))
		}
		return n, false, err
	}

	w := &errWriter{w: f}
	n, err = src(w)
	if w.err != nil {
		return fail(storageErr("writing", tmp, w.err))
	}
	if err != nil {
		return fail(err)
	}
	if reused {
		// What the file held past the new end: never read as part of
		// this message (its trailer is at the end).
		if err := f.Truncate(w.n); err != nil {
			return fail(storageErr("truncating", tmp, err))
		}
	}
	if ds.syncer == nil {
		if err := f.Sync(); err != nil {
			return fail(storageErr("syncing", tmp, err))
		}
	}
	if err := f.Close(); err != nil {
		return fail(storageErr("closing", tmp, err))
	}
	if ds.syncer != nil {
		// The file's data durable before its name: a name in msg/ or
		// meta/ always has its whole file behind it, as with fdatasync.
		if err := ds.syncSince(mark); err != nil {
			return fail(storageErr("syncing the file system of", tmp, err))
		}
	}
	final := filepath.Join(dir, name)
	if err := s.fs.Rename(tmp, final); err != nil {
		return fail(storageErr("renaming temp file to", final, err))
	}
	if err := ds.syncSince(mark); err != nil {
		return n, true, storageErr("syncing folder", dir, err)
	}
	return n, false, nil
}

// errWriter remembers the first error of w, to tell a disk error from an
// error of the reader that io.Copy reads from.
type errWriter struct {
	w   io.Writer
	n   int64 // bytes written
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	e.n += int64(n)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

// removeDurably removes the files at paths (missing ones are fine) and
// fsyncs their folders, for cleaning up after a failed Add. It returns
// what went wrong, wrapping ErrStorage.
func (s *Store) removeDurably(paths ...string) error {
	var errs []error
	for _, p := range paths {
		if err := s.fs.Remove(p); err != nil && !isNotExist(err) {
			errs = append(errs, storageErr("removing", p, err))
			continue
		}
		if err := s.dirSyncs.get(s.fs, filepath.Dir(p)).sync(); err != nil {
			errs = append(errs, storageErr("syncing folder", filepath.Dir(p), err))
		}
	}
	return errors.Join(errs...)
}
