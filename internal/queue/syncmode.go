package queue

import "fmt"

// Sync is how a Store makes a new queue file durable (doc.go, "Syncing").
type Sync int

const (
	// SyncFile flushes each new file with fdatasync(2), then fsyncs its
	// folder once for every file renamed into it meanwhile (dirsync.go).
	SyncFile Sync = iota
	// SyncFileSystem flushes the whole file system holding the queue with
	// one syncfs(2) for every file written meanwhile, and again once they
	// are renamed into place: two shared calls per group of messages
	// instead of one fdatasync per message and one folder fsync per group.
	SyncFileSystem
	// SyncAuto is SyncFileSystem where syncfs reports write errors (Linux
	// 5.8 and later) on a local file system it is known to flush (ext4,
	// XFS, Btrfs, F2FS, tmpfs), else SyncFile.
	SyncAuto
)

// ParseSync reads a Sync as configuration names it: "file",
// "filesystem" or "auto".
func ParseSync(s string) (Sync, error) {
	switch s {
	case "file":
		return SyncFile, nil
	case "filesystem":
		return SyncFileSystem, nil
	case "auto":
		return SyncAuto, nil
	}
	return 0, fmt.Errorf(`queue sync %q: use "auto", "filesystem" or "file"`, s)
}

func (m Sync) String() string {
	switch m {
	case SyncFile:
		return "file"
	case SyncFileSystem:
		return "filesystem"
	case SyncAuto:
		return "auto"
	}
	return fmt.Sprintf("Sync(%d)", int(m))
}

// fsSyncer flushes a whole file system: every file's data and every
// folder's names changed before the call (syncfs(2)). It holds a
// descriptor of a folder on that file system for as long as the Store is
// open: the kernel reports a write error to a descriptor's syncfs once,
// the first time it is called after the error (errseq, Linux 5.8).
type fsSyncer interface {
	SyncFS() error
	Close() error
}

// chooseSync resolves mode for the queue folder dir on fs: the mode in
// effect and, when auto chose or a file system refused, why.
func chooseSync(fs fsys, dir string, mode Sync) (Sync, string, error) {
	switch mode {
	case SyncFile:
		return SyncFile, "", nil
	case SyncFileSystem:
		if !canSyncFS(fs) {
			return 0, "", fmt.Errorf("queue: %s: sync \"filesystem\": this file system interface has no syncfs", dir)
		}
		if why := syncFSUnsafe(dir); why != "" && isOS(fs) {
			return 0, "", fmt.Errorf("queue: %s: sync \"filesystem\" is not safe here: %s; use \"file\"", dir, why)
		}
		return SyncFileSystem, "", nil
	case SyncAuto:
		if !canSyncFS(fs) {
			return SyncFile, "no syncfs here", nil
		}
		if why := syncFSUnsafe(dir); why != "" {
			return SyncFile, why, nil
		}
		return SyncFileSystem, "", nil
	}
	return 0, "", fmt.Errorf("queue: %s: unknown sync mode %v", dir, mode)
}

// syncFSer is a file system interface that can flush the whole file
// system (osFS on Linux, a powercut recorder through OpenFS).
type syncFSer interface {
	openSyncFS(dir string) (fsSyncer, error)
}

// canSyncFS says whether fs can open an fsSyncer.
func canSyncFS(fs fsys) bool {
	switch f := fs.(type) {
	case *hookFS:
		return canSyncFS(f.fsys)
	case durableFS:
		_, ok := f.fs.(durableSyncFS)
		return ok
	case syncFSer:
		return true
	}
	return false
}

// isOS says whether fs is the real file system, perhaps behind the fault
// hooks of tests: only then does the kernel's behaviour matter.
func isOS(fs fsys) bool {
	switch f := fs.(type) {
	case osFS:
		return true
	case *hookFS:
		return isOS(f.fsys)
	}
	return false
}
