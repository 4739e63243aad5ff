//go:build unix && !linux

package queue

import "syscall"

// datasync is fsync where fdatasync(2) is not in package syscall.
func datasync(fd int) error { return syscall.Fsync(fd) }
