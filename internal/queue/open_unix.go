//go:build unix

package queue

import (
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
// per open on Linux. On a busy hub a message opens its queue file several
// times, so the queue opens its files here, directly.

// openRead opens the file or folder at path for reading.
func openRead(path string) (*os.File, error) {
	fd, err := ignoringEINTR(func() (int, error) { return syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0) })
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// createTemp creates a new file named tmp-* in dir, mode 0600, for
// writing.
func createTemp(dir string) (*os.File, error) {
	for try := 0; ; try++ {
		p := filepath.Join(dir, tmpPrefix+strconv.FormatUint(rand.Uint64(), 36))
		fd, err := ignoringEINTR(func() (int, error) {
			return syscall.Open(p, syscall.O_RDWR|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o600)
		})
		if err == syscall.EEXIST && try < 100 {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "createtemp", Path: p, Err: err}
		}
		return os.NewFile(uintptr(fd), p), nil
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
