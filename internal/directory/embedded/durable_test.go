package embedded

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/waypost/waypost/internal/durable"
	"github.com/waypost/waypost/internal/powercut"
)

// Open of a new store makes it durable: the folders it creates, and the
// new file's name, by an fsync of the folder holding each (bbolt fsyncs
// the file's content, not its name). The file itself is bbolt's, written
// past the recorder, so this checks the operations rather than replaying
// them.
func TestOpenNewStoreSyncsItsFolder(t *testing.T) {
	root := t.TempDir()
	rec, err := powercut.New(root)
	if err != nil {
		t.Fatal(err)
	}
	folderFS = rec
	t.Cleanup(func() { folderFS = durable.OS })
	s, err := Open(filepath.Join(root, "data", "hub1", FileName), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var ops []string
	for _, op := range rec.Ops() {
		ops = append(ops, op.String())
	}
	want := []string{"mkdir data", "mkdir data/hub1", "fsync .", "fsync data", "fsync data/hub1"}
	if !slices.Equal(ops, want) {
		t.Errorf("operations %q, want %q", ops, want)
	}
	// Opening it again (read-only, as the hub does) changes nothing.
	rec2, err := powercut.New(root)
	if err != nil {
		t.Fatal(err)
	}
	folderFS = rec2
	open(t, filepath.Join(root, "data", "hub1", FileName), true)
	if ops := rec2.Ops(); len(ops) != 0 {
		t.Errorf("operations on opening an existing store: %v", ops)
	}
}
