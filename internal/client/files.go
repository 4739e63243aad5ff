package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/waypost/waypost/internal/durable"
)

// removeFile removes path and fsyncs its folder; a missing file is no error.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return durable.SyncDir(filepath.Dir(path))
}

// writeJSON writes v as indented JSON to path, atomically.
func writeJSON(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return durable.WriteFile(path, append(b, '\n'), mode)
}

// readJSON reads path into v. A missing file returns an error wrapping
// os.ErrNotExist; a damaged one says which file and how to repair it.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s is damaged (%v); remove it and run \"waypost client sync\" (or login again)", path, err)
	}
	return nil
}
