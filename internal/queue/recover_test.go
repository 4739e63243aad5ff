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
	// update writes a record to meta/ (as a message changed more often
	// than its queue file's records hold: append.go).
	update := func(m *Message) {
		t.Helper()
		s.recordsMax = 0
		defer func() { s.recordsMax = recordsMax }()
		if err := s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	appendTo := func(m *Message, times int) {
		t.Helper()
		for range times {
			if err := s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts++; return nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
	var good []string
	for range 2 {
		good = append(good, addT(t, s, "good").ID)
	}
	updated := addT(t, s, "good, updated")
	update(updated)
	good = append(good, updated.ID)
	// Records appended to the queue file, the last one torn (a crash in
	// an append) or zeros (its size written, its blocks not): the one
	// before is the record.
	appended := addT(t, s, "good, appended")
	appendTo(appended, 3)
	good = append(good, appended.ID)
	tornAppend := addT(t, s, "good, torn append")
	appendTo(tornAppend, 2)
	good = append(good, tornAppend.ID)
	zeroedAppend := addT(t, s, "good, zeroed append")
	appendTo(zeroedAppend, 1)
	good = append(good, zeroedAppend.ID)
	// Written before records were kept in the queue file: content only,
	// and the record in meta/.
	old := addT(t, s, "good, old layout")
	update(old)
	write("msg/"+old.ID, "good, old layout")
	good = append(good, old.ID)

	raw, _ := os.ReadFile(s.msgPath(tornAppend.ID))
	write("msg/"+tornAppend.ID, string(raw)+string(raw[len(raw)-700:len(raw)-100]))
	raw, _ = os.ReadFile(s.msgPath(zeroedAppend.ID))
	write("msg/"+zeroedAppend.ID, string(raw)+string(make([]byte, 900)))
	// A torn append, then a change that went to meta/ (the torn bytes
	// left no room): the content is still the content.
	metaAfterTorn := addT(t, s, "good, meta after a torn append")
	appendTo(metaAfterTorn, 1)
	raw, _ = os.ReadFile(s.msgPath(metaAfterTorn.ID))
	write("msg/"+metaAfterTorn.ID, string(raw)+string(raw[len(raw)-700:len(raw)-100]))
	update(metaAfterTorn)
	good = append(good, metaAfterTorn.ID)

	torn := addT(t, s, "torn")
	tornOwn := addT(t, s, "torn own record")
	noRecord := addT(t, s, "no record")
	tooShort := addT(t, s, "too short")
	shortContent := addT(t, s, "short content")
	badSum := addT(t, s, "bad checksum")
	removing := addT(t, s, "removing")
	update(torn)
	update(shortContent)
	update(removing)

	// A torn record in meta/: the first half of the file.
	rec, _ := os.ReadFile(s.metaPath(torn.ID))
	write("meta/"+torn.ID+".json", string(rec[:len(rec)/2]))
	// A queue file whose record is torn but whose trailer is whole.
	raw, _ = os.ReadFile(s.msgPath(tornOwn.ID))
	recStart := len("torn own record")
	write("msg/"+tornOwn.ID, string(raw[:recStart+10])+string(trailer(10)))
	// A queue file with neither a trailer nor a record in meta/, and one
	// whose trailer gives a record longer than the file.
	write("msg/"+noRecord.ID, "no record")
	write("msg/"+tooShort.ID, "too short"+string(trailer(100)))
	// Content shorter than the record says.
	write("msg/"+shortContent.ID, "short")
	// A queue file whose record does not match its end record.
	raw, _ = os.ReadFile(s.msgPath(badSum.ID))
	write("msg/"+badSum.ID, string(bytes.Replace(raw, []byte("alice@"), []byte("carol@"), 1)))
	// A Remove that did not finish: the queue file is gone, the record not.
	os.Remove(s.msgPath(removing.ID))
	// Temp files of Adds and Updates that did not finish.
	write("msg/tmp-123", "half a message")
	write("meta/tmp-456", `{"format": 1, "mess`)
	// Something the queue never writes.
	write("meta/notes.txt", "admin was here")

	s, got := reopen(t, s)

	if got.Resumed != len(good) {
		t.Errorf("Resumed = %d, want %d", got.Resumed, len(good))
	}
	wantRemoved := []string{"meta/" + removing.ID + ".json", "meta/tmp-456", "msg/tmp-123"}
	slices.Sort(got.RemovedPartial)
	if !slices.Equal(got.RemovedPartial, wantRemoved) {
		t.Errorf("RemovedPartial = %v, want %v", got.RemovedPartial, wantRemoved)
	}

	wantQ := map[string]struct {
		files  []string
		reason string
	}{
		torn.ID:         {[]string{"quarantine/" + torn.ID, "quarantine/" + torn.ID + ".json"}, "meta/" + torn.ID + ".json: corrupt queue record: not JSON"},
		tornOwn.ID:      {[]string{"quarantine/" + tornOwn.ID}, "msg/" + tornOwn.ID + ": corrupt queue record: not JSON"},
		noRecord.ID:     {[]string{"quarantine/" + noRecord.ID}, "no record"},
		tooShort.ID:     {[]string{"quarantine/" + tooShort.ID}, "gives a record of 100 bytes"},
		shortContent.ID: {[]string{"quarantine/" + shortContent.ID, "quarantine/" + shortContent.ID + ".json"}, "the content has 5 bytes, the record says 13"},
		badSum.ID:       {[]string{"quarantine/" + badSum.ID}, "does not match"},
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
	if c := readContent(t, s, old.ID); c != "good, old layout" {
		t.Errorf("content of the old-layout message = %q", c)
	}
	if c := readContent(t, s, updated.ID); c != "good, updated" {
		t.Errorf("content of the updated message = %q", c)
	}
	for _, m := range []*Message{updated, old} {
		if got, err := s.Get(m.ID); err != nil || got.Recipients[0].Attempts != 1 {
			t.Errorf("after recovery, %s reads as %+v, %v: want the record Update wrote (1 attempt)", m.ID, got, err)
		}
	}
	for _, w := range []struct {
		m        *Message
		attempts int
		content  string
	}{{appended, 3, "good, appended"}, {tornAppend, 2, "good, torn append"}, {zeroedAppend, 1, "good, zeroed append"},
		{metaAfterTorn, 2, "good, meta after a torn append"}} {
		if got, err := s.Get(w.m.ID); err != nil || got.Recipients[0].Attempts != w.attempts {
			t.Errorf("after recovery, %s reads as %+v, %v: want the last whole record appended (%d attempts)", w.m.ID, got, err, w.attempts)
		}
		if c := readContent(t, s, w.m.ID); c != w.content {
			t.Errorf("content of %s = %q, want %q", w.m.ID, c, w.content)
		}
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
