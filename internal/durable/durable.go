// Package durable writes small files and creates folders so that a crash,
// a power cut included, leaves either the old state or the new one on
// stable storage: a temporary file in the same folder, fsynced, renamed
// over the target, and the folder fsynced (the pattern of Maildir
// deliveries and of the queue's records); a new folder is made durable by
// an fsync of the folder that holds it. POSIX (fsync, "Rationale") makes a
// name durable only by an fsync of its folder, and ext4 and XFS lose names
// that were not: see docs/architecture.md, "Power cuts".
//
// Every write goes through an FS, so that a test can record the operations
// and replay what a power cut could leave of them (internal/powercut). The
// queue keeps its own writer, with injected failures for its tests;
// everything else that must survive a crash (client profiles, the API's uid
// lists, pickup's badmail reasons, drop and Maildir folders) uses this
// package.
package durable

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WriteFile writes data to path atomically with permissions perm, and makes
// the result durable. Errors name path.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFileFS(OS, path, data, perm)
}

// WriteFileFS is WriteFile on fsys.
func WriteFileFS(fsys FS, path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := CreateTemp(fsys, dir, ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		Abort(fsys, f)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		Abort(fsys, f)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := Commit(fsys, f, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Commit finishes a file written under a temporary name in the folder of
// path: it fsyncs and closes f, renames it to path and fsyncs the folder,
// so that after a crash path holds the old file or the whole new one.
// Every writer outside the queue ends with it (WriteFile, the drop folder,
// Maildir). On failure the temporary file is removed.
func Commit(fsys FS, f File, path string) error {
	tmp := f.Name()
	if err := f.Sync(); err != nil {
		Abort(fsys, f)
		return err
	}
	if err := f.Close(); err != nil {
		fsys.Remove(tmp)
		return err
	}
	if err := fsys.Rename(tmp, path); err != nil {
		fsys.Remove(tmp)
		return err
	}
	return fsys.SyncDir(filepath.Dir(path))
}

// Abort closes f and removes it: for a temporary file that will not be
// committed.
func Abort(fsys FS, f File) {
	f.Close()
	fsys.Remove(f.Name())
}

// SafeName keeps s usable as one file name: "/", "\" and control
// characters become "_".
func SafeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < 0x20 {
			return '_'
		}
		return r
	}, s)
}

// CreateTemp creates a new file named prefix followed by random digits in
// dir, mode 0600, for writing, as os.CreateTemp does.
func CreateTemp(fsys FS, dir, prefix string) (File, error) {
	for try := 0; ; try++ {
		p := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := fsys.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, err
	}
}

// SyncDir fsyncs a folder, making the names created, renamed or removed in
// it durable.
func SyncDir(dir string) error { return OS.SyncDir(dir) }

// MkdirAll creates the folder path and the folders above it that are
// missing, with permissions perm (before the umask), as os.MkdirAll does,
// and makes each folder it creates durable by an fsync of the folder that
// holds it. A folder that exists already is left as it is: its name is
// durable if whoever created it made it so.
func MkdirAll(fsys FS, path string, perm os.FileMode) error {
	created, err := mkdirAll(fsys, filepath.Clean(path), perm)
	if err != nil {
		return fmt.Errorf("creating folder %s: %w", path, err)
	}
	// Top down: each fsync makes one more level reachable.
	for i := len(created) - 1; i >= 0; i-- {
		if err := fsys.SyncDir(filepath.Dir(created[i])); err != nil {
			return fmt.Errorf("creating folder %s: %w", path, err)
		}
	}
	return nil
}

// mkdirAll creates path and what is missing above it, and returns the
// folders it created, deepest first.
func mkdirAll(fsys FS, path string, perm os.FileMode) ([]string, error) {
	fi, err := os.Stat(path)
	if err == nil {
		if fi.IsDir() {
			return nil, nil
		}
		return nil, &fs.PathError{Op: "mkdir", Path: path, Err: errors.New("not a folder")}
	}
	var created []string
	if parent := filepath.Dir(path); parent != path {
		if created, err = mkdirAll(fsys, parent, perm); err != nil {
			return nil, err
		}
	}
	err = fsys.Mkdir(path, perm)
	if errors.Is(err, fs.ErrExist) {
		// Made meanwhile by someone else, who makes it durable.
		if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
			return created, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return append([]string{path}, created...), nil
}
