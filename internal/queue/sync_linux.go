package queue

import (
	"os"
	"syscall"
)

// datasync flushes the data of a new queue file and the metadata needed
// to read it back (its size), but not its times: fdatasync(2) is enough
// for a file that is written once, then renamed into a folder that is
// fsynced after.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
