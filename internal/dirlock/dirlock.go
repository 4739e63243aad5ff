// Package dirlock keeps a folder to one process at a time: an exclusive
// flock(2) on the file "lock" in it, held until the returned file is
// closed or the process dies (so a crash never leaves a stale lock). The
// queue folder (internal/queue) and the client's profile folder
// (internal/client) use it.
package dirlock

import "errors"

// ErrLocked is TryLock's answer when another process holds the lock.
var ErrLocked = errors.New("locked by another process")

// Name is the file in the folder that carries the lock.
const Name = "lock"
