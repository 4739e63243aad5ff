package queue

import (
	"fmt"
)

// Update rewrites the metadata of message id: it reads the record, calls
// f on it and, if f returns nil, writes the changed record atomically:
// appended to the queue file and fdatasynced, or, once the file's records
// fill their room, in meta/ (temp file, fsync, rename, folder fsync;
// append.go). An error of f is returned as it is and nothing is written.
// f must not change ID or Size, nor leave no recipients. Updates and
// Removes of one ID are serialized.
//
// A scheduler that keeps every record in memory writes with Put instead,
// which reads nothing.
//
// A disk failure returns an error wrapping ErrStorage; the old record is
// then still in place, except when only the final step failed (the folder
// fsync of meta/, or the close of the queue file after its fdatasync): the
// new record is in place then, but a crash may bring back the old one.
func (s *Store) Update(id string, f func(m *Message) error) error {
	if !validID(id) {
		return fmt.Errorf("queue: %q is not a queue ID: %w", id, ErrNotFound)
	}
	mu := s.idLock(id)
	mu.Lock()
	defer mu.Unlock()

	m, err := s.read(id)
	if err != nil {
		return err
	}
	size := m.Size
	if err := f(m); err != nil {
		return err
	}
	switch {
	case m.ID != id:
		return fmt.Errorf("queue: update of %s changed the ID to %q", id, m.ID)
	case m.Size != size:
		return fmt.Errorf("queue: update of %s changed the size from %d to %d", id, size, m.Size)
	case len(m.Recipients) == 0:
		return fmt.Errorf("queue: update of %s left no recipients", id)
	}
	data, err := encodeRecord(m)
	if err != nil {
		return err
	}
	return s.writeRecord(id, size, data)
}

// Put writes m as the record of its message, from memory: nothing is
// read first (the caller holds the latest state, as a scheduler with an
// in-memory index does). The write is atomic and durable as Update's: the
// record is the old one or m, and a disk failure returns an error wrapping
// ErrStorage with the old record still in place (but for a failure of
// the final step, as Update). The message must be in the queue: Put of a message
// removed meanwhile fails with ErrNotFound and writes nothing.
func (s *Store) Put(m *Message) error {
	if !validID(m.ID) {
		return fmt.Errorf("queue: %q is not a queue ID: %w", m.ID, ErrNotFound)
	}
	if len(m.Recipients) == 0 {
		return fmt.Errorf("queue: writing %s with no recipients", m.ID)
	}
	data, err := encodeRecord(m)
	if err != nil {
		return err
	}
	mu := s.idLock(m.ID)
	mu.Lock()
	defer mu.Unlock()
	return s.writeRecord(m.ID, m.Size, data)
}

// Remove takes message id out of the queue, when every recipient is final
// and its notifications are queued. It removes the queue file first (from
// then on the message is gone), then the record an Update may have
// written; neither removal is fsynced (doc.go, "Removal"). An error after
// the queue file is removed wraps ErrStorage but the message is gone all
// the same; a record left behind in meta/ is removed by the next Open, and
// a queue file whose removal a crash undoes comes back (a duplicate, never
// a loss).
func (s *Store) Remove(id string) error {
	if !validID(id) {
		return fmt.Errorf("queue: %q is not a queue ID: %w", id, ErrNotFound)
	}
	mu := s.idLock(id)
	mu.Lock()
	defer mu.Unlock()

	return s.remove(id, -1)
}

// RemoveMessage is Remove of m, a message read from the queue (its Size
// is known without a look at the disk): a small queue file is kept for
// reuse by a later Add instead of being unlinked (reuse.go).
func (s *Store) RemoveMessage(m *Message) error {
	if !validID(m.ID) {
		return fmt.Errorf("queue: %q is not a queue ID: %w", m.ID, ErrNotFound)
	}
	mu := s.idLock(m.ID)
	mu.Lock()
	defer mu.Unlock()

	return s.remove(m.ID, m.Size)
}

// Finish is Update for the results of a delivery: when f leaves every
// recipient final, done is called with the message (to queue its
// reports) and the message is removed instead of rewritten, which saves
// the two fsyncs of a record about to go. Otherwise, or when done returns
// an error (which the caller, who wrote done, knows of), the record is
// written as by Update. removed says which happened; err is the error of
// reading, f, or writing or removing the record.
func (s *Store) Finish(id string, f func(m *Message) error, done func(m *Message) error) (removed bool, err error) {
	if !validID(id) {
		return false, fmt.Errorf("queue: %q is not a queue ID: %w", id, ErrNotFound)
	}
	mu := s.idLock(id)
	mu.Lock()
	defer mu.Unlock()
	m, err := s.read(id)
	if err != nil {
		return false, err
	}
	size := m.Size
	if err := f(m); err != nil {
		return false, err
	}
	if m.ID != id || m.Size != size || len(m.Recipients) == 0 {
		return false, fmt.Errorf("queue: finishing %s changed its ID or size or left no recipients", id)
	}
	if m.Done() && done(m) == nil {
		return true, s.remove(id, m.Size)
	}
	data, err := encodeRecord(m)
	if err != nil {
		return false, err
	}
	return false, s.writeRecord(id, size, data)
}

// remove deletes the queue file of id (size bytes of content, -1 if not
// known), then its record in meta/ if there is one; the caller holds the
// ID's lock. The queue file may go to the pool of files to reuse
// (reuse.go) rather than be unlinked: either way its name is gone.
func (s *Store) remove(id string, size int64) error {
	p := s.msgPath(id)
	if err := s.release(id, size); err != nil {
		if isNotExist(err) {
			return fmt.Errorf("queue: removing %s: %w", id, ErrNotFound)
		}
		return storageErr("removing", p, err)
	}
	// No fsync of msg/: a removal lost in a crash brings the message
	// back, a duplicate, never a loss (doc.go, "Removal").
	if !s.mayHaveMeta(id) {
		return nil
	}
	// The record needs no folder fsync: should its removal be lost in a
	// crash, a record without a queue file is removed by the next Open.
	meta := s.metaPath(id)
	if err := s.fs.Remove(meta); err != nil && !isNotExist(err) {
		return storageErr("removing", meta, err)
	}
	s.metas.Delete(id)
	return nil
}
