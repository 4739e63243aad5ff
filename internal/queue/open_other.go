//go:build !unix

package queue

import "os"

func openRead(path string) (*os.File, error) { return os.Open(path) }

func createTemp(dir string) (*os.File, error) { return os.CreateTemp(dir, tmpPrefix+"*") }
