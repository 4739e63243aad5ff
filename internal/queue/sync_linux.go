package queue

import "syscall"

// datasync flushes the data of a new queue file and the metadata needed
// to read it back (its size), but not its times: fdatasync(2) is enough
// for a file that is written once, then renamed into a folder that is
// fsynced after.
func datasync(fd int) error { return syscall.Fdatasync(fd) }
