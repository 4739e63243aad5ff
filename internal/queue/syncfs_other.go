//go:build !linux

package queue

// syncFSUnsafe: syncfs(2) is Linux's.
func syncFSUnsafe(string) string { return "syncfs(2) is Linux's" }
