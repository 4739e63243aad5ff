package durable

import (
	"fmt"
	"io"
	"os"
)

// FS is the file system operations that change what is on disk, which
// this package and the local delivery agents make every change through.
// Reading goes to the os package directly. OS is the real one; a test may
// pass a recorder (internal/powercut) that logs each operation.
type FS interface {
	// Mkdir creates a folder, as os.Mkdir.
	Mkdir(name string, perm os.FileMode) error
	// OpenFile opens a file for writing, as os.OpenFile.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Rename renames a file, as os.Rename.
	Rename(oldpath, newpath string) error
	// Remove removes a file or an empty folder, as os.Remove.
	Remove(name string) error
	// SyncDir fsyncs a folder, making the names created, renamed or
	// removed in it durable.
	SyncDir(dir string) error
}

// File is a file open for writing.
type File interface {
	io.Writer
	Name() string
	Chmod(mode os.FileMode) error
	Sync() error
	Close() error
}

// OS is the real file system.
var OS FS = osFS{}

type osFS struct{}

func (osFS) Mkdir(name string, perm os.FileMode) error { return os.Mkdir(name, perm) }
func (osFS) Rename(oldpath, newpath string) error      { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                  { return os.Remove(name) }

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not a nil *os.File in a non-nil File
	}
	return f, nil
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	return nil
}
