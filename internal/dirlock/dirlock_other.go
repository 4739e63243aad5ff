//go:build !unix

package dirlock

import "os"

// TryLock does nothing where flock is not available: the caller must make
// sure that one process at a time uses the folder.
func TryLock(dir string) (*os.File, error) { return nil, nil }

// Lock does nothing where flock is not available, as TryLock.
func Lock(dir string) (*os.File, error) { return nil, nil }
