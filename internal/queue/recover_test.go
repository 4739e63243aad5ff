package queue

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRecovery(t *testing.T) {
	s, _ := openT(t, "")
	dir := s.Dir()
	write := func(rel, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var good []string
	for range 3 {
		good = append(good, addT(t, s, "good").ID)
	}
	torn := addT(t, s, "torn")
	noContent := addT(t, s, "no content")
	shortContent := addT(t, s, "short content")
	badSum := addT(t, s, "bad checksum")
	partial := addT(t, s, "partial")

	// A torn record: the first half of the file.
	rec, _ := os.ReadFile(s.metaPath(torn.ID))
	write("meta/"+torn.ID+".json", string(rec[:len(rec)/2]))
	// A record whose content is gone.
	os.Remove(s.msgPath(noContent.ID))
	// Content shorter than the record says.
	write("msg/"+shortContent.ID, "short")
	// A record that is JSON but whose message does not match its end record.
	rec, _ = os.ReadFile(s.metaPath(badSum.ID))
	write("meta/"+badSum.ID+".json", string(bytes.Replace(rec, []byte("alice@"), []byte("mallory"), 1)))
	// Content whose record was never written (crash inside Add).
	os.Remove(s.metaPath(partial.ID))
	// Temp files of Adds and Updates that did not finish.
	write("msg/tmp-123", "half a message")
	write("meta/tmp-456", `{"format": 1, "mess`)
	// Something the queue never writes.
	write("meta/notes.txt", "admin was here")

	s, got := reopen(t, s)

	if got.Resumed != len(good) {
		t.Errorf("Resumed = %d, want %d", got.Resumed, len(good))
	}
	wantRemoved := []string{"meta/tmp-456", "msg/" + partial.ID, "msg/tmp-123"}
	slices.Sort(got.RemovedPartial)
	if !slices.Equal(got.RemovedPartial, wantRemoved) {
		t.Errorf("RemovedPartial = %v, want %v", got.RemovedPartial, wantRemoved)
	}

	wantQ := map[string]struct {
		files  []string
		reason string
	}{
		torn.ID:         {[]string{"quarantine/" + torn.ID + ".json", "quarantine/" + torn.ID}, "not JSON"},
		noContent.ID:    {[]string{"quarantine/" + noContent.ID + ".json"}, "missing"},
		shortContent.ID: {[]string{"quarantine/" + shortContent.ID + ".json", "quarantine/" + shortContent.ID}, "has 5 bytes, the record says 13"},
		badSum.ID:       {[]string{"quarantine/" + badSum.ID + ".json", "quarantine/" + badSum.ID}, "does not match"},
		"":              {[]string{"quarantine/notes.txt"}, "not a name the queue writes"},
	}
	if len(got.Quarantined) != len(wantQ) {
		t.Errorf("Quarantined %d: %+v, want %d", len(got.Quarantined), got.Quarantined, len(wantQ))
	}
	for _, q := range got.Quarantined {
		w, ok := wantQ[q.ID]
		if !ok {
			t.Errorf("quarantined %q unexpectedly: %+v", q.ID, q)
			continue
		}
		if !slices.Equal(q.Files, w.files) || !strings.Contains(q.Reason, w.reason) {
			t.Errorf("quarantined %q: %+v, want files %v and a reason with %q", q.ID, q, w.files, w.reason)
		}
		for _, f := range q.Files {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("quarantined file: %v", err)
			}
		}
		t.Logf("quarantined %s: %s", q.ID, q.Reason)
	}

	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list {
		ids = append(ids, m.ID)
	}
	if !slices.Equal(ids, good) {
		t.Errorf("List after recovery %v, want %v", ids, good)
	}

	// A second Open finds nothing more to do and keeps the quarantine.
	_, again := reopen(t, s)
	if again.Resumed != len(good) || len(again.RemovedPartial) != 0 || len(again.Quarantined) != 0 {
		t.Errorf("second recovery = %+v", again)
	}
}

func TestQuarantineNameTaken(t *testing.T) {
	s, _ := openT(t, "")
	dir := s.Dir()
	for _, p := range []string{"quarantine/x", "quarantine/x.2", "meta/x"} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, rec := reopen(t, s)
	if len(rec.Quarantined) != 1 || !slices.Equal(rec.Quarantined[0].Files, []string{"quarantine/x.3"}) {
		t.Fatalf("Quarantined = %+v, want meta/x moved to quarantine/x.3", rec.Quarantined)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "quarantine/x")); string(b) != "quarantine/x" {
		t.Error("an earlier quarantined file was overwritten")
	}
}

// Every prefix of a record but the whole one (with or without the final
// newline) is refused: a torn write is always detected.
func TestRecordTornAnywhere(t *testing.T) {
	m := &Message{ID: "0000000000000001-000000000000", Envelope: testEnvelope(), Size: 5}
	data, err := encodeRecord(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeRecord("r", m.ID, data); err != nil {
		t.Fatalf("whole record: %v", err)
	}
	for n := range len(data) - 1 {
		if _, err := decodeRecord("r", m.ID, data[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix of %d/%d bytes: error %v, want ErrCorrupt", n, len(data), err)
		}
	}
	// Any single changed byte of the message is caught by the checksum
	// (or breaks the JSON).
	for i := bytes.Index(data, []byte(`"message": `)) + 11; data[i] != '}' || data[i+1] != ','; i++ {
		bad := bytes.Clone(data)
		bad[i] ^= 0x01
		if got, err := decodeRecord("r", m.ID, bad); err == nil {
			t.Fatalf("byte %d flipped: decoded %+v", i, got)
		}
	}
	for name, rec := range map[string]string{
		"future format": `{"format": 2, "message": {}, "end": "crc32c:00000000"}`,
		"no end":        `{"format": 1, "message": {"id": "x"}}`,
		"other ID":      strings.Replace(string(data), m.ID, "0000000000000002-000000000000", 1),
	} {
		if _, err := decodeRecord("r", m.ID, []byte(rec)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}
