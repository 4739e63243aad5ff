package queue

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// Records appended to the queue file (doc.go, "Appended records"). A
// change of a message's record (an attempt's results, a hold, a poison
// mark) is appended to its queue file, after the record Add wrote, with a
// trailer of its own kind, while the file's records take little room;
// after that it goes to meta/ID.json as before. A message that is
// deferred a few times and then delivered is then one file from start to
// end: no record file to create at each deferral, nor to unlink with the
// message (on ext4 with discard, the unlink of a second file per message
// was a third of the cost of draining a backlog: docs/performance.md).
const (
	// recordsMax is the room a queue file's records may take, from the
	// end of its content to the end of the file, with an appended one: a
	// change that would need more goes to meta/ID.json. About seven
	// changes of a message with a few recipients fit.
	recordsMax = 8 << 10
	// tailScan is how far from its end a queue file is searched for its
	// last whole record when the end is not one (an append torn by a
	// crash or a full disk, or a reader that met an append being made):
	// the records, with one torn append, fit in it.
	tailScan = 2*recordsMax + trailerLen
)

// writeRecord writes data, the new record of message id (size bytes of
// content), durably: appended to the queue file while its records fit in
// recordsMax and the message has no record in meta/, else to
// meta/ID.json. The caller holds the ID's lock. A record is then the old
// one or the new one, for readers and after a crash.
func (s *Store) writeRecord(id string, size int64, data []byte) error {
	if !s.mayHaveMeta(id) {
		done, err := s.appendRecord(id, size, data)
		if done || err != nil {
			return err
		}
	} else if _, err := os.Lstat(s.msgPath(id)); isNotExist(err) {
		return fmt.Errorf("queue: writing the record of %s: %w", id, ErrNotFound)
	}
	s.metas.Store(id, true) // before the file can exist
	_, _, err := s.writeFile(s.metaDir, id+metaExt, bytes.NewReader(data).WriteTo)
	return err
}

// appendRecord appends data and its trailer to the queue file of id and
// fdatasyncs it (or waits for a syncfs round of msg/, with Sync
// "filesystem"): no new file, no new name, no folder fsync. It returns
// false and nil when the file's records would take more than recordsMax
// (the caller writes meta/ID.json instead). On a failure the file is cut
// back to what it was, so that its last record is the old one.
func (s *Store) appendRecord(id string, size int64, data []byte) (done bool, err error) {
	p := s.msgPath(id)
	f, end, err := s.fs.Append(p)
	if isNotExist(err) {
		return false, fmt.Errorf("queue: writing the record of %s: %w", id, ErrNotFound)
	}
	if err != nil {
		s.spaceResult(err)
		return false, storageErr("opening to append a record to", p, err)
	}
	chunk := len(data) + trailerLen
	if end-size+int64(chunk) > s.recordsMax {
		f.Close()
		return false, nil
	}
	defer func() { s.spaceResult(err) }()
	fail := func(step string, err error) (bool, error) {
		// Cut what was written, so that the old record is the last one
		// again; if that fails too, the next reader finds the old record
		// before the torn one (lastRecord).
		f.Truncate(end)
		f.Close()
		return false, storageErr(step, p, err)
	}
	ds := s.dirSyncs.get(s.fs, s.msgDir)
	mark := ds.mark()
	buf := make([]byte, 0, chunk)
	buf = append(append(buf, data...), updateTrailer(len(data))...)
	if _, err := f.Write(buf); err != nil {
		return fail("appending a record to", err)
	}
	if ds.syncer != nil {
		// A round of msg/'s group commit, shared with the Adds and the
		// other appends (doc.go, "Syncing").
		if err := ds.syncSince(mark); err != nil {
			return fail("syncing the file system of", err)
		}
	} else if err := f.Sync(); err != nil {
		return fail("syncing", err)
	}
	if err := f.Close(); err != nil {
		return false, storageErr("closing", p, err)
	}
	return true, nil
}

// recordAt is where a queue file's last record was found.
type recordAt struct {
	start int64 // offset of the record
	first bool  // the record Add wrote, right after the content; else an appended one
}

// lastRecord reads and decodes the last whole record of the queue file p
// of message id (size bytes, read through f): the one its final trailer
// gives, or, when that is not a trailer or its record is not valid (a
// torn append), the last valid one found searching back from the end.
// found is false when the file has no trailer at all (the layout of
// earlier versions, whose record is in meta/ID.json).
func (s *Store) lastRecord(id, p string, f io.ReaderAt, size int64) (m *Message, at recordAt, found bool, err error) {
	if size < int64(trailerLen) {
		return nil, at, false, nil
	}
	tr := make([]byte, trailerLen)
	if _, err := f.ReadAt(tr, size-int64(trailerLen)); err != nil {
		return nil, at, false, fmt.Errorf("queue: reading %s: %w", p, err)
	}
	if n, first, ok := parseTrailer(tr); ok {
		m, at, err := s.recordBefore(id, p, f, size-int64(trailerLen), n, first)
		if err == nil || !errors.Is(err, ErrCorrupt) {
			return m, at, true, err
		}
	}
	return s.searchRecord(id, p, f, size)
}

// recordBefore reads the record of n bytes that ends at end (where its
// trailer starts).
func (s *Store) recordBefore(id, p string, f io.ReaderAt, end, n int64, first bool) (*Message, recordAt, error) {
	at := recordAt{start: end - n, first: first}
	if n > end {
		return nil, at, corruptErr(p, "the trailer gives a record of %d bytes, more than the file holds", n)
	}
	data := make([]byte, n)
	if _, err := f.ReadAt(data, at.start); err != nil {
		return nil, at, fmt.Errorf("queue: reading %s: %w", p, err)
	}
	m, err := decodeRecord(p, id, data)
	return m, at, err
}

// searchRecord looks for the last valid record in the last tailScan bytes
// of the file: each trailer line found, from the end back, whose record
// decodes. found is false when there is no trailer line at all.
func (s *Store) searchRecord(id, p string, f io.ReaderAt, size int64) (*Message, recordAt, bool, error) {
	from := max(0, size-int64(tailScan))
	tail := make([]byte, size-from)
	if _, err := f.ReadAt(tail, from); err != nil {
		return nil, recordAt{}, false, fmt.Errorf("queue: reading %s: %w", p, err)
	}
	found := false
	var last error
	for i := len(tail); i > 0; {
		i = lastTrailerStart(tail[:i])
		if i < 0 {
			break
		}
		n, first, ok := parseTrailer(tail[i : i+trailerLen])
		if !ok {
			continue
		}
		found = true
		m, at, err := s.recordBefore(id, p, f, from+int64(i), n, first)
		if err == nil {
			return m, at, true, nil
		}
		if !errors.Is(err, ErrCorrupt) {
			return nil, at, true, err
		}
		last = err
	}
	if found {
		return nil, recordAt{}, true, corruptErr(p, "no valid record in its last %d bytes (the last trailer's: %v)", len(tail), last)
	}
	return nil, recordAt{}, false, nil
}

// lastTrailerStart returns the offset of the last trailer line that
// begins and ends within b, or -1.
func lastTrailerStart(b []byte) int {
	for {
		i := max(bytes.LastIndex(b, []byte(trailerPrefix)), bytes.LastIndex(b, []byte(updatePrefix)))
		if i < 0 {
			return -1
		}
		if i+trailerLen <= len(b) {
			return i
		}
		b = b[:i]
	}
}
