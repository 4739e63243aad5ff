package queue

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// openSyncFS opens dir to flush its file system with syncfs(2).
func (osFS) openSyncFS(dir string) (fsSyncer, error) {
	fd, err := ignoringEINTR(func() (int, error) {
		return syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &rawSyncer{fd: fd, name: dir}, nil
}

// rawSyncer is a folder's descriptor kept open for syncfs(2).
type rawSyncer struct {
	fd   int
	name string
}

func (r *rawSyncer) SyncFS() error {
	return retrying("syncfs", r.name, func() error { return unix.Syncfs(r.fd) })
}

func (r *rawSyncer) Close() error {
	if r.fd < 0 {
		return nil
	}
	err := syscall.Close(r.fd)
	r.fd = -1
	return err
}

// File systems whose syncfs writes every dirty file and folder and
// returns their write errors (their sync_fs and writeback go through the
// kernel's common paths), by statfs(2) magic number (32 bits; f_type is
// an int32 on some platforms).
var syncFSKinds = map[uint32]string{
	0xEF53:     "ext4",
	0x58465342: "xfs",
	0x9123683E: "btrfs",
	0xF2F52010: "f2fs",
	0x01021994: "tmpfs",
}

// syncFSUnsafe says why syncfs(2) cannot stand in for fdatasync and a
// folder fsync for the queue in dir, or "" when it can: before Linux 5.8
// syncfs did not report write errors; other file systems (NFS, FUSE,
// overlays) are not known to flush everything it should.
func syncFSUnsafe(dir string) string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "uname: " + err.Error()
	}
	release := unix.ByteSliceToString(u.Release[:])
	if !kernelAtLeast(release, 5, 8) {
		return fmt.Sprintf("Linux %s: syncfs reports write errors from Linux 5.8", release)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "statfs " + dir + ": " + err.Error()
	}
	if _, ok := syncFSKinds[uint32(st.Type)]; !ok {
		return fmt.Sprintf("file system type 0x%X is not one known to flush everything with syncfs (ext4, xfs, btrfs, f2fs, tmpfs)", st.Type)
	}
	return ""
}

// kernelAtLeast reads a release such as "6.1.0-18-amd64".
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	digits := strings.IndexFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	if digits < 0 {
		digits = len(parts[1])
	}
	mi, err2 := strconv.Atoi(parts[1][:digits])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
