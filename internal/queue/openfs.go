package queue

import (
	"fmt"
	"os"

	"github.com/waypost/waypost/internal/durable"
)

// OpenFS is Open with every change to the queue folder (its folders, the
// files written, renamed and removed, the fsyncs) made through fsys, so
// that the power-cut tests of internal/powercut can record and replay
// them. Reading goes to the os package, as always.
func OpenFS(dir string, fsys durable.FS) (*Store, *Recovery, error) {
	return open(dir, durableFS{fsys})
}

// durableFS is a durable.FS as the queue's fsys.
type durableFS struct{ fs durable.FS }

func (d durableFS) CreateTemp(dir string) (file, error) {
	f, err := durable.CreateTemp(d.fs, dir, tmpPrefix)
	if err != nil {
		return nil, err // not a nil durable.File in a non-nil file
	}
	return truncFile{f}, nil
}

func (d durableFS) Reuse(path string) (file, error) {
	f, err := d.fs.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	return truncFile{f}, nil
}

func (d durableFS) Append(path string) (file, int64, error) {
	fi, err := os.Stat(path) // reading goes to the os package
	if err != nil {
		return nil, 0, err
	}
	f, err := d.fs.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, 0, err
	}
	return truncFile{f}, fi.Size(), nil
}

// truncFile is a durable.File as the queue's file: Truncate goes to the
// file's own Truncate (os.File and the power-cut recorder's have one).
type truncFile struct{ durable.File }

func (f truncFile) Truncate(size int64) error {
	t, ok := f.File.(interface{ Truncate(int64) error })
	if !ok {
		return fmt.Errorf("queue: %s: the file system cannot truncate a file", f.Name())
	}
	return t.Truncate(size)
}
func (d durableFS) Rename(oldpath, newpath string) error { return d.fs.Rename(oldpath, newpath) }
func (d durableFS) Remove(name string) error             { return d.fs.Remove(name) }
func (d durableFS) SyncDir(dir string) error             { return d.fs.SyncDir(dir) }

// durableSyncFS is a durable.FS that can flush a whole file system (the
// powercut recorder models syncfs(2)).
type durableSyncFS interface {
	SyncFS(dir string) error
}

func (d durableFS) openSyncFS(dir string) (fsSyncer, error) {
	f, ok := d.fs.(durableSyncFS)
	if !ok {
		return nil, fmt.Errorf("queue: %s: the file system has no syncfs", dir)
	}
	return durableSyncer{f, dir}, nil
}

type durableSyncer struct {
	fs  durableSyncFS
	dir string
}

func (d durableSyncer) SyncFS() error { return d.fs.SyncFS(d.dir) }
func (d durableSyncer) Close() error  { return nil }

// folderFS is what the queue creates its folders through: fsys's
// durable.FS when it has one.
func folderFS(fsys fsys) durable.FS {
	if d, ok := fsys.(durableFS); ok {
		return d.fs
	}
	return durable.OS
}
