package queue

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// Add puts a message in the queue: its envelope and the content read from
// body (the message as it will be delivered, headers included). It sets
// the ID and Size of the returned Message, makes every recipient with no
// State Pending, and sets Arrival to now when it is zero.
//
// When Add returns nil the message is on stable storage (see the package
// documentation). A disk failure returns an error wrapping ErrStorage, an
// error reading body is returned wrapped as it is; either way nothing of
// the message is left in the queue.
func (s *Store) Add(env Envelope, body io.Reader) (*Message, error) {
	if len(env.Recipients) == 0 {
		return nil, errors.New("queue: adding a message with no recipients")
	}
	m := &Message{ID: s.idgen.next(s.now()), Envelope: env}
	m.Recipients = slices.Clone(env.Recipients)
	for i := range m.Recipients {
		if m.Recipients[i].State == "" {
			m.Recipients[i].State = Pending
		}
	}
	if m.Arrival.IsZero() {
		m.Arrival = s.now().UTC().Round(0) // as it will read back
	}

	// The queue file: content, record, trailer (see trailer). Writes go
	// through a buffer: a body read from SMTP comes a line at a time.
	f, reused, err := s.createQueueFile()
	if err != nil {
		s.spaceResult(err)
		return nil, storageErr("creating temp file in", s.msgDir, err)
	}
	_, renamed, err := s.writeOver(f, reused, s.msgDir, m.ID, func(w io.Writer) (int64, error) {
		bw := writers.Get().(*bufio.Writer)
		bw.Reset(w)
		defer func() { bw.Reset(nil); writers.Put(bw) }()
		n, err := io.Copy(bw, body)
		if err != nil { // writeFile tells the disk's errors from the reader's
			return n, fmt.Errorf("queue: reading the content of %s: %w", m.ID, err)
		}
		m.Size = n
		rec, err := encodeRecord(m)
		if err != nil {
			return n, err
		}
		bw.Write(rec)
		bw.Write(trailer(len(rec)))
		return n, bw.Flush()
	})
	if err != nil {
		if renamed {
			err = errors.Join(err, s.removeDurably(s.msgPath(m.ID)))
		}
		return nil, err
	}
	return m, nil
}

// writers are the buffers Add writes queue files through, kept between
// Adds: at hundreds of messages a second, a new 64 KiB buffer each is
// work for the garbage collector.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
