package queue

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// FuzzQueueFile reads arbitrary bytes as a queue file: the reader never
// panics, and either finds a record whose content fits in the file or
// says the file is corrupt. A disk can hand back anything.
func FuzzQueueFile(f *testing.F) {
	s, _ := openT(f, "")
	m := addT(f, s, "Subject: hi\r\n\r\nhello\r\n")
	whole, err := os.ReadFile(s.msgPath(m.ID))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(whole)
	f.Add(whole[:len(whole)-1])
	f.Add(whole[len(whole)-trailerLen:])
	f.Add(append([]byte("x"), trailer(9_999_999_999)...))
	f.Add(bytes.Replace(whole, []byte("waypost-queue-record 0"), []byte("waypost-queue-record -"), 1))
	// Records appended (append.go): whole, torn, and the last one's
	// trailer of the first kind.
	if err := s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts = 1; return nil }); err != nil {
		f.Fatal(err)
	}
	appended, err := os.ReadFile(s.msgPath(m.ID))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(appended)
	f.Add(appended[:len(appended)-trailerLen/2])
	f.Add(append(appended, appended[len(whole):len(appended)-40]...))
	f.Add(bytes.Replace(appended, []byte(updatePrefix), []byte(trailerPrefix), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := s.parseQueueFile(m.ID, "msg/"+m.ID, bytes.NewReader(data), int64(len(data)))
		switch {
		case err != nil && !errors.Is(err, ErrCorrupt):
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		case err == nil && (got.Size < 0 || got.Size+int64(trailerLen) > int64(len(data))):
			t.Fatalf("record says %d bytes of content in a file of %d", got.Size, len(data))
		case err == nil && got.ID != m.ID:
			t.Fatalf("record of %q read as %q", got.ID, m.ID)
		}
	})
}
