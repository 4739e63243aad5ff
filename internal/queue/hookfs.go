package queue

import "fmt"

// hookFS is the file system of OpenWith with Options.Fault: every
// operation asks fault first.
type hookFS struct {
	fsys
	fault func(op, path string) error
}

func (h *hookFS) CreateTemp(dir string) (file, error) {
	if err := h.fault("create", dir); err != nil {
		return nil, err
	}
	f, err := h.fsys.CreateTemp(dir)
	if err != nil {
		return nil, err
	}
	return &hookFile{file: f, fault: h.fault}, nil
}

func (h *hookFS) Reuse(path string) (file, error) {
	if err := h.fault("create", path); err != nil {
		return nil, err
	}
	f, err := h.fsys.Reuse(path)
	if err != nil {
		return nil, err
	}
	return &hookFile{file: f, fault: h.fault}, nil
}

func (h *hookFS) Append(path string) (file, int64, error) {
	if err := h.fault("append", path); err != nil {
		return nil, 0, err
	}
	f, size, err := h.fsys.Append(path)
	if err != nil {
		return nil, 0, err
	}
	return &hookFile{file: f, fault: h.fault}, size, nil
}

func (h *hookFS) Rename(oldpath, newpath string) error {
	if err := h.fault("rename", newpath); err != nil {
		return err
	}
	return h.fsys.Rename(oldpath, newpath)
}

func (h *hookFS) Remove(name string) error {
	if err := h.fault("remove", name); err != nil {
		return err
	}
	return h.fsys.Remove(name)
}

func (h *hookFS) SyncDir(dir string) error {
	if err := h.fault("syncdir", dir); err != nil {
		return err
	}
	return h.fsys.SyncDir(dir)
}

func (h *hookFS) openSyncFS(dir string) (fsSyncer, error) {
	inner, ok := h.fsys.(syncFSer)
	if !ok {
		return nil, fmt.Errorf("queue: %s: the file system has no syncfs", dir)
	}
	s, err := inner.openSyncFS(dir)
	if err != nil {
		return nil, err
	}
	return &hookSyncer{fsSyncer: s, dir: dir, fault: h.fault}, nil
}

// hookSyncer asks fault before each syncfs, as op "syncfs".
type hookSyncer struct {
	fsSyncer
	dir   string
	fault func(op, path string) error
}

func (h *hookSyncer) SyncFS() error {
	if err := h.fault("syncfs", h.dir); err != nil {
		return err
	}
	return h.fsSyncer.SyncFS()
}

type hookFile struct {
	file
	fault func(op, path string) error
}

func (f *hookFile) Write(p []byte) (int, error) {
	if err := f.fault("write", f.Name()); err != nil {
		return 0, err
	}
	return f.file.Write(p)
}

func (f *hookFile) Sync() error {
	if err := f.fault("sync", f.Name()); err != nil {
		return err
	}
	return f.file.Sync()
}

func (f *hookFile) Close() error {
	if err := f.fault("close", f.Name()); err != nil {
		f.file.Close()
		return err
	}
	return f.file.Close()
}
