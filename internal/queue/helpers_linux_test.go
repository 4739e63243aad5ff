package queue

// The syncfs of a faultFS asks fail first, as op "syncfs".
func (f *faultFS) openSyncFS(dir string) (fsSyncer, error) {
	s, err := f.osFS.openSyncFS(dir)
	if err != nil {
		return nil, err
	}
	return &faultSyncer{fsSyncer: s, fs: f, dir: dir}, nil
}

type faultSyncer struct {
	fsSyncer
	fs  *faultFS
	dir string
}

func (f *faultSyncer) SyncFS() error {
	if err := f.fs.fail("syncfs", f.dir); err != nil {
		return err
	}
	return f.fsSyncer.SyncFS()
}
