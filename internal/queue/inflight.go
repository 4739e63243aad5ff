package queue

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Markers are the in-flight markers of a scheduler's workers: one small
// file per worker slot, DIR/inflight/N, holding the ID of the message the
// worker is processing (written at offset 0 when it starts, blanked when
// it ends with the message still queued; a message that left the queue
// may stay named until the slot's next message, as a marker naming no
// queued message is passed over). They are never fsynced: they are there for a crash of the
// process (a poison message), not of the machine, and the page cache
// survives the former. Read at the next start, they name the messages
// that were in flight when the process died (Exchange's poison message
// detection counts them).
type Markers struct {
	files []*os.File
	blank []byte
}

// OpenMarkers opens n worker slots and returns the IDs that the markers
// of the last run (any number of slots) still held: the messages in
// flight when it ended without finishing them. Every marker is blank
// after it.
func (s *Store) OpenMarkers(n int) (*Markers, []string, error) {
	dir := filepath.Join(s.dir, "inflight")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("queue: creating folder %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("queue: listing %s: %w", dir, err)
	}
	var ids []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("queue: reading in-flight marker %s: %w", p, err)
		}
		if id := string(bytes.TrimRight(b, " \n\x00")); validID(id) {
			ids = append(ids, id)
		}
		if k, err := strconv.Atoi(e.Name()); err != nil || k >= n {
			os.Remove(p) // a slot of a run with more workers, or a stray file
		}
	}
	mk := &Markers{blank: bytes.Repeat([]byte{' '}, idLen)}
	for i := range n {
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(i)), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			mk.Close()
			return nil, nil, fmt.Errorf("queue: opening in-flight marker: %w", err)
		}
		mk.files = append(mk.files, f)
		// Written blank now, so that marking a message never needs a new
		// block of a full disk.
		if _, err := f.WriteAt(mk.blank, 0); err != nil {
			mk.Close()
			return nil, nil, fmt.Errorf("queue: writing in-flight marker %s: %w", f.Name(), err)
		}
	}
	return mk, ids, nil
}

// Set marks slot as processing message id.
func (mk *Markers) Set(slot int, id string) error {
	_, err := mk.files[slot].WriteAt([]byte(id), 0)
	return err
}

// Clear marks slot as idle.
func (mk *Markers) Clear(slot int) error {
	_, err := mk.files[slot].WriteAt(mk.blank, 0)
	return err
}

// Close closes the markers' files, leaving them as they are.
func (mk *Markers) Close() error {
	for _, f := range mk.files {
		f.Close()
	}
	return nil
}
