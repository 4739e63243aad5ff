//go:build linux || darwin || freebsd || dragonfly

package smtpd

import "syscall"

// diskFree returns the bytes available to an unprivileged user on the file
// system that holds dir.
func diskFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
