package smtpd

import (
	"bytes"
	"io"
	"os"
)

// spoolInMemory is how much of a message the sender checks' copy keeps in
// memory before it moves to a file: most mail is smaller, and a file per
// message (created and removed) costs an inode allocation, the dearest
// step of a queue write on ext4 (docs/performance.md, "Where the relay's
// CPU goes").
const spoolInMemory = 128 << 10

// spool is the copy of a message that the sender checks read (twice:
// once to check, once to queue it behind the Authentication-Results
// field): in memory up to spoolInMemory bytes, then in an unlinked
// temporary file in dir.
type spool struct {
	dir string
	mem bytes.Buffer
	f   *os.File // nil while the message fits in memory
}

// Write appends p, moving the copy to a file when it outgrows memory.
func (s *spool) Write(p []byte) (int, error) {
	if s.f == nil && s.mem.Len()+len(p) <= spoolInMemory {
		return s.mem.Write(p)
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, ".senderauth-*")
		if err != nil {
			return 0, err
		}
		os.Remove(f.Name()) // gone with the last close, even after a crash
		s.f = f
		if _, err := s.f.Write(s.mem.Bytes()); err != nil {
			return 0, err
		}
		s.mem = bytes.Buffer{}
	}
	return s.f.Write(p)
}

// Reader returns the copy from its start; each call starts again.
func (s *spool) Reader() (io.Reader, error) {
	if s.f == nil {
		return bytes.NewReader(s.mem.Bytes()), nil
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return s.f, nil
}

// Close removes the copy.
func (s *spool) Close() {
	if s.f != nil {
		s.f.Close()
	}
}
