//go:build unix

package dirlock

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// flock(2) locks belong to an open file, so two opens in one process
// contend as two processes do.
func TestTryLock(t *testing.T) {
	dir := t.TempDir()
	f, err := TryLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second TryLock: %v, want ErrLocked", err)
	}
	f.Close()
	g, err := TryLock(dir)
	if err != nil {
		t.Fatalf("TryLock after Close: %v", err)
	}
	g.Close()
}

func TestLockWaits(t *testing.T) {
	dir := t.TempDir()
	f, err := TryLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		g, err := Lock(dir)
		if err == nil {
			g.Close()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Lock returned (%v) while the lock was held", err)
	case <-time.After(200 * time.Millisecond):
	}
	f.Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Lock still waiting after the holder closed")
	}
}

func TestLockMissingFolder(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	_, err := Lock(missing)
	if err == nil || errors.Is(err, ErrLocked) {
		t.Fatalf("Lock of a missing folder: %v", err)
	}
}
