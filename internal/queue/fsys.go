package queue

import (
	"io"
	"os"
)

// contentFile is a queue file open for reading its content
// (OpenMessage).
type contentFile interface {
	io.ReaderAt
	io.Closer
}

// fsys is the file system operations whose failure the durability
// contract must survive. Tests substitute one that fails on demand.
type fsys interface {
	CreateTemp(dir string) (file, error) // a new file named tmp-* in dir, mode 0600
	Reuse(path string) (file, error)     // an existing file, open for writing over from its start (reuse.go)
	// Append opens an existing queue file for writing at its end (a
	// record appended: append.go) and returns its size.
	Append(path string) (file, int64, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	SyncDir(dir string) error
}

// file is a temp file being written. Sync needs only flush the data and
// size: the file is written once, then renamed into a folder that is
// fsynced after (fdatasync(2) on Linux). Truncate cuts a reused file to
// what was written over it.
type file interface {
	Name() string
	Write(p []byte) (int, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// osFS is the real file system (open_unix.go, open_other.go).
type osFS struct{}

func (osFS) CreateTemp(dir string) (file, error)     { return createTemp(dir) }
func (osFS) Reuse(path string) (file, error)         { return openReuse(path) }
func (osFS) Append(path string) (file, int64, error) { return openAppend(path) }
func (osFS) Rename(oldpath, newpath string) error    { return rename(oldpath, newpath) }
func (osFS) Remove(name string) error                { return os.Remove(name) }

// SyncDir fsyncs a folder, making the names created, renamed or removed in
// it durable.
func (osFS) SyncDir(dir string) error { return syncDir(dir) }
