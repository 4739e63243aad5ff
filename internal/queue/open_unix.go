//go:build unix

package queue

import (
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// The queue's files are regular files and folders, which the runtime's
// network poller cannot wait on; os.Open and os.CreateTemp try to
// register every file with it all the same, which costs five system calls
// per open on Linux, and os.NewFile asks for the file's flags (fcntl). So
// the queue opens its files here, directly, and the file Add writes is a
// bare descriptor (rawFile): open, write, fdatasync, close and nothing
// else.

// openRead opens the file or folder at path for reading.
func openRead(path string) (*os.File, error) {
	fd, err := ignoringEINTR(func() (int, error) { return syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0) })
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// openContent opens the queue file at path for reading its content: a
// bare descriptor read with pread(2), as OpenMessage needs nothing else.
func openContent(path string) (contentFile, error) {
	fd, err := ignoringEINTR(func() (int, error) { return syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0) })
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &rawReader{fd: fd, name: path}, nil
}

// rawReader is a queue file open for reading, as a bare descriptor.
type rawReader struct {
	fd   int
	name string
}

// ReadAt reads len(p) bytes at off, or fewer and io.EOF at the end of
// the file.
func (f *rawReader) ReadAt(p []byte, off int64) (int, error) {
	if f.fd < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrClosed}
	}
	n := 0
	for n < len(p) {
		m, err := syscall.Pread(f.fd, p[n:], off+int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// Close closes the descriptor; a second Close is an error.
func (f *rawReader) Close() error {
	if f.fd < 0 {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	err := syscall.Close(f.fd)
	f.fd = -1
	if err != nil {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}

// createTemp creates a new file named tmp-* in dir, mode 0600, for
// writing.
func createTemp(dir string) (file, error) {
	for try := 0; ; try++ {
		p := filepath.Join(dir, tmpPrefix+strconv.FormatUint(rand.Uint64(), 36))
		fd, err := ignoringEINTR(func() (int, error) {
			return syscall.Open(p, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o600)
		})
		if err == syscall.EEXIST && try < 100 {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "createtemp", Path: p, Err: err}
		}
		return &rawFile{fd: fd, name: p}, nil
	}
}

// openReuse opens the existing file at path for writing over it from its
// start: no O_CREAT (no new inode), no O_TRUNC (its blocks are kept and
// written over; Truncate cuts what is left past the new end).
func openReuse(path string) (file, error) {
	fd, err := ignoringEINTR(func() (int, error) { return syscall.Open(path, syscall.O_WRONLY|syscall.O_CLOEXEC, 0) })
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &rawFile{fd: fd, name: path}, nil
}

// openAppend opens the existing queue file at path for writing at its
// end (O_APPEND), and returns its size.
func openAppend(path string) (file, int64, error) {
	fd, err := ignoringEINTR(func() (int, error) {
		return syscall.Open(path, syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, 0, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, 0, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	return &rawFile{fd: fd, name: path}, st.Size, nil
}

// rawFile is a new queue file open for writing, as a bare descriptor.
type rawFile struct {
	fd   int
	name string
}

func (f *rawFile) Name() string { return f.name }

func (f *rawFile) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := syscall.Write(f.fd, p[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, &fs.PathError{Op: "write", Path: f.name, Err: err}
		}
		if m == 0 {
			return n, &fs.PathError{Op: "write", Path: f.name, Err: syscall.EIO}
		}
		n += m
	}
	return n, nil
}

// Truncate sets the file's size.
func (f *rawFile) Truncate(size int64) error {
	return retrying("truncate", f.name, func() error { return syscall.Ftruncate(f.fd, size) })
}

// Sync flushes the file's data and size (see datasync).
func (f *rawFile) Sync() error {
	return retrying("fdatasync", f.name, func() error { return datasync(f.fd) })
}

// Close closes the descriptor; a second Close is an error, not a close of
// some other file that took the number meanwhile.
func (f *rawFile) Close() error {
	if f.fd < 0 {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	err := syscall.Close(f.fd) // never retried on EINTR: the descriptor is gone either way
	f.fd = -1
	if err != nil {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}

// syncDir fsyncs the folder at dir.
func syncDir(dir string) error {
	fd, err := ignoringEINTR(func() (int, error) {
		return syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	err = retrying("fsync", dir, func() error { return syscall.Fsync(fd) })
	if cerr := syscall.Close(fd); cerr != nil && err == nil {
		err = &fs.PathError{Op: "close", Path: dir, Err: cerr}
	}
	return err
}

// rename is rename(2). os.Rename first looks whether newpath is a folder
// (one more system call); a queue file's new name never is.
func rename(oldpath, newpath string) error {
	if err := syscall.Rename(oldpath, newpath); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

// retrying makes call until it fails with something other than EINTR,
// and returns that error as op's on path.
func retrying(op, path string, call func() error) error {
	for {
		err := call()
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: op, Path: path, Err: err}
		}
		return nil
	}
}

func ignoringEINTR(open func() (int, error)) (int, error) {
	for {
		fd, err := open()
		if err != syscall.EINTR {
			return fd, err
		}
	}
}
