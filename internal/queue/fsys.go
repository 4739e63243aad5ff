package queue

import (
	"os"
)

// fsys is the file system operations whose failure the durability
// contract must survive. Tests substitute one that fails on demand.
type fsys interface {
	CreateTemp(dir string) (file, error) // a new file named tmp-* in dir, mode 0600
	Rename(oldpath, newpath string) error
	Remove(name string) error
	SyncDir(dir string) error
}

// file is a temp file being written.
type file interface {
	Name() string
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

// osFS is the real file system.
type osFS struct{}

func (osFS) CreateTemp(dir string) (file, error) {
	f, err := createTemp(dir)
	if err != nil {
		return nil, err // not a nil *os.File in a non-nil file
	}
	return osFile{f}, nil
}
func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error             { return os.Remove(name) }

// SyncDir fsyncs a folder, making the names created, renamed or removed in
// it durable.
func (osFS) SyncDir(dir string) error {
	d, err := openRead(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// osFile is a new file of the queue: written once, then renamed, so its
// Sync need only be fdatasync (sync_linux.go).
type osFile struct{ *os.File }

func (f osFile) Sync() error { return datasync(f.File) }
