package queue

import "github.com/waypost/waypost/internal/durable"

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
	return f, nil
}
func (d durableFS) Rename(oldpath, newpath string) error { return d.fs.Rename(oldpath, newpath) }
func (d durableFS) Remove(name string) error             { return d.fs.Remove(name) }
func (d durableFS) SyncDir(dir string) error             { return d.fs.SyncDir(dir) }

// folderFS is what the queue creates its folders through: fsys's
// durable.FS when it has one.
func folderFS(fsys fsys) durable.FS {
	if d, ok := fsys.(durableFS); ok {
		return d.fs
	}
	return durable.OS
}
