package powercut

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/waypost/waypost/internal/durable"
)

// OpKind is the kind of a recorded operation.
type OpKind int

// Kinds of operations.
const (
	OpMkdir    OpKind = iota // Path created as a folder
	OpCreate                 // Path created as an empty file
	OpTruncate               // the file Ino cut to Off bytes (O_TRUNC: to nothing)
	OpWrite                  // Data written to the file Ino at Off
	OpSync                   // the file or folder Ino fsynced
	OpRename                 // Path renamed to To
	OpRemove                 // Path removed
	OpNote                   // a promise the code under test made (Note)
	OpSyncFS                 // the whole file system synced (syncfs(2)): every file and folder
)

// Op is one recorded operation. Paths are relative to the recorded folder
// and slash-separated.
type Op struct {
	Kind OpKind
	Path string
	To   string
	Ino  int
	Off  int64
	Data []byte
	Note string
}

func (op Op) String() string {
	switch op.Kind {
	case OpMkdir:
		return "mkdir " + op.Path
	case OpCreate:
		return "create " + op.Path
	case OpTruncate:
		return fmt.Sprintf("truncate %s to %d bytes", op.Path, op.Off)
	case OpWrite:
		return fmt.Sprintf("write %s (%d bytes at %d)", op.Path, len(op.Data), op.Off)
	case OpSync:
		return "fsync " + op.Path
	case OpRename:
		return "rename " + op.Path + " -> " + op.To
	case OpRemove:
		return "remove " + op.Path
	case OpSyncFS:
		return "syncfs " + op.Path
	default:
		return fmt.Sprintf("note: %q", op.Note)
	}
}

// Recorder is a durable.FS that changes a real folder and records every
// change made under it. It is safe for concurrent use: operations are
// recorded in the order they happened.
type Recorder struct {
	root string

	// SyncTime is how long an fsync takes, after it is recorded (zero by
	// default): a real fsync takes milliseconds, in which other goroutines
	// go on, which a test of concurrent writers needs. An fsync is taken
	// to cover what was done before it started, the worst case.
	SyncTime time.Duration

	mu      sync.Mutex
	initial *model // the folder as New found it, all durable
	live    *model // the folder now
	ops     []Op
}

var _ durable.FS = (*Recorder)(nil)

// New starts recording changes under root, an existing folder; what it
// holds now is taken to be durable.
func New(root string) (*Recorder, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("powercut: %w", err)
	}
	m := newModel()
	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == abs {
			return err
		}
		rel, _ := filepath.Rel(abs, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			_, err = m.add(rel, true, true, nil)
		case d.Type().IsRegular():
			var data []byte
			if data, err = os.ReadFile(p); err == nil {
				_, err = m.add(rel, false, true, data)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("powercut: reading %s: %w", abs, err)
	}
	return &Recorder{root: abs, initial: m, live: m.clone()}, nil
}

// Root returns the absolute path of the recorded folder.
func (r *Recorder) Root() string { return r.root }

// Ops returns the operations recorded so far.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}

// Note records a promise the code under test has just made (a message
// acknowledged, a delivery reported), for the check to hold every crash
// state after it to.
func (r *Recorder) Note(note string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, Op{Kind: OpNote, Note: note})
}

// rel returns name relative to the root, slash-separated.
func (r *Recorder) rel(name string) (string, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(r.root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("powercut: %s is outside the recorded folder %s", name, r.root)
	}
	return filepath.ToSlash(rel), nil
}

// record applies op to the live model and logs it; the caller holds mu
// and has done the operation on disk.
func (r *Recorder) record(op Op) error {
	if err := r.live.apply(op); err != nil {
		return fmt.Errorf("powercut: recording %v: %w", op, err)
	}
	r.ops = append(r.ops, op)
	return nil
}

// Mkdir implements durable.FS.
func (r *Recorder) Mkdir(name string, perm os.FileMode) error {
	rel, err := r.rel(name)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := os.Mkdir(name, perm); err != nil {
		return err
	}
	return r.record(Op{Kind: OpMkdir, Path: rel})
}

// OpenFile implements durable.FS. Files are opened for writing only.
func (r *Recorder) OpenFile(name string, flag int, perm os.FileMode) (durable.File, error) {
	rel, err := r.rel(name)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, statErr := os.Lstat(name)
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if statErr != nil {
		if err := r.record(Op{Kind: OpCreate, Path: rel}); err != nil {
			f.Close()
			return nil, err
		}
	}
	ino, err := r.live.lookup(rel)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("powercut: %w", err)
	}
	rf := &recFile{f: f, r: r, rel: rel, ino: ino}
	if flag&os.O_TRUNC != 0 && statErr == nil {
		if err := r.record(Op{Kind: OpTruncate, Path: rel, Ino: ino}); err != nil {
			f.Close()
			return nil, err
		}
	}
	if flag&os.O_APPEND != 0 {
		rf.off = int64(len(r.live.inodes[ino].data))
	}
	return rf, nil
}

// Rename implements durable.FS.
func (r *Recorder) Rename(oldpath, newpath string) error {
	from, err := r.rel(oldpath)
	if err != nil {
		return err
	}
	to, err := r.rel(newpath)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	return r.record(Op{Kind: OpRename, Path: from, To: to})
}

// Remove implements durable.FS.
func (r *Recorder) Remove(name string) error {
	rel, err := r.rel(name)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := os.Remove(name); err != nil {
		return err
	}
	return r.record(Op{Kind: OpRemove, Path: rel})
}

// SyncDir implements durable.FS: it records the fsync of the folder (and
// makes none: see the package documentation).
func (r *Recorder) SyncDir(dir string) error {
	rel, err := r.rel(dir)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("syncing folder %s: not a folder", dir)
	}
	ino, err := r.live.lookup(rel)
	if err != nil {
		return fmt.Errorf("powercut: %w", err)
	}
	return r.sync(Op{Kind: OpSync, Path: rel, Ino: ino})
}

// SyncFS records a syncfs(2) of the file system holding dir: every file's
// data and every folder's names become durable, as far as the recorded
// folder goes (and makes none, as SyncDir).
func (r *Recorder) SyncFS(dir string) error {
	rel, err := r.rel(dir)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("syncfs of %s: %w", dir, err)
	}
	return r.sync(Op{Kind: OpSyncFS, Path: rel})
}

// sync records an fsync and takes SyncTime; the caller holds mu, which
// it releases meanwhile.
func (r *Recorder) sync(op Op) error {
	if err := r.record(op); err != nil || r.SyncTime == 0 {
		return err
	}
	r.mu.Unlock()
	time.Sleep(r.SyncTime)
	r.mu.Lock()
	return nil
}

// recFile is a file open for writing through a Recorder.
type recFile struct {
	f   *os.File
	r   *Recorder
	rel string
	ino int
	off int64
}

func (f *recFile) Name() string                 { return f.f.Name() }
func (f *recFile) Chmod(mode os.FileMode) error { return f.f.Chmod(mode) }
func (f *recFile) Close() error                 { return f.f.Close() }

func (f *recFile) Write(p []byte) (int, error) {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	n, err := f.f.Write(p)
	if n > 0 {
		data := append([]byte(nil), p[:n]...)
		if rerr := f.r.record(Op{Kind: OpWrite, Path: f.rel, Ino: f.ino, Off: f.off, Data: data}); rerr != nil && err == nil {
			err = rerr
		}
		f.off += int64(n)
	}
	return n, err
}

// Truncate sets the file's size, as os.File.Truncate.
func (f *recFile) Truncate(size int64) error {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	if err := f.f.Truncate(size); err != nil {
		return err
	}
	return f.r.record(Op{Kind: OpTruncate, Path: f.rel, Ino: f.ino, Off: size})
}

// Sync records the fsync of the file (and makes none).
func (f *recFile) Sync() error {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	return f.r.sync(Op{Kind: OpSync, Path: f.rel, Ino: f.ino})
}
