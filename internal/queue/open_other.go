//go:build !unix

package queue

import "os"

func openRead(path string) (*os.File, error) { return os.Open(path) }

func openContent(path string) (contentFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // not a nil *os.File in a non-nil contentFile
	}
	return f, nil
}

func createTemp(dir string) (file, error) {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return nil, err // not a nil *os.File in a non-nil file
	}
	return f, nil
}

func openReuse(path string) (file, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, err // not a nil *os.File in a non-nil file
	}
	return f, nil
}

func openAppend(path string) (file, int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
