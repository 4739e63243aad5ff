package queue

import (
	"errors"
	"fmt"
)

var (
	// ErrStorage marks a failed write, fsync, rename or remove: the disk
	// did not take the change. Add and Update leave the queue as it was
	// before the call; the SMTP receiver answers 451 4.3.0.
	ErrStorage = errors.New("queue storage failure")
	// ErrNotFound marks an ID that is not in the queue (or is not an ID).
	ErrNotFound = errors.New("message not in queue")
	// ErrCorrupt marks a message record that is not valid: torn, bad
	// checksum, unknown format, missing, or saying a size other than the
	// content's. Open moves such messages to quarantine/.
	ErrCorrupt = errors.New("corrupt queue record")
	// ErrLocked marks a queue folder that another process has open.
	ErrLocked = errors.New("queue folder in use by another process")
)

// storageErr wraps err (from step, on path) with ErrStorage.
func storageErr(step, path string, err error) error {
	return fmt.Errorf("queue: %s %s: %w: %w", step, path, ErrStorage, err)
}

// corruptErr says why the record at path is not valid.
func corruptErr(path, format string, args ...any) error {
	return fmt.Errorf("queue: %s: %w: %s", path, ErrCorrupt, fmt.Sprintf(format, args...))
}
