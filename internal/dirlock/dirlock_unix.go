//go:build unix

package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// TryLock takes the lock on dir, or fails at once with an error wrapping
// ErrLocked when another process holds it. Closing the returned file
// releases the lock.
func TryLock(dir string) (*os.File, error) { return lock(dir, syscall.LOCK_EX|syscall.LOCK_NB) }

// Lock takes the lock on dir, waiting for another process to release it.
// Closing the returned file releases the lock.
func Lock(dir string) (*os.File, error) { return lock(dir, syscall.LOCK_EX) }

func lock(dir string, how int) (*os.File, error) {
	p := filepath.Join(dir, Name)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file %s: %w", p, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("locking %s: %w", p, err)
	}
	return f, nil
}
