package queue

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestAddGetOpen(t *testing.T) {
	s, rec := openT(t, "")
	if rec.Resumed != 0 || len(rec.RemovedPartial) != 0 || len(rec.Quarantined) != 0 {
		t.Errorf("new queue: Recovery = %+v, want empty", rec)
	}
	body := "Subject: hi\r\n\r\nhello\r\n"
	m := addT(t, s, body)

	if !validID(m.ID) {
		t.Errorf("ID %q is not valid", m.ID)
	}
	if m.Size != int64(len(body)) {
		t.Errorf("Size = %d, want %d", m.Size, len(body))
	}
	for i, r := range m.Recipients {
		if r.State != Pending {
			t.Errorf("recipient %d State = %q, want pending", i, r.State)
		}
	}
	want := testEnvelope()
	want.Recipients[0].State, want.Recipients[1].State = Pending, Pending
	if !reflect.DeepEqual(m.Envelope, want) {
		t.Errorf("Add returned envelope\n%+v\nwant\n%+v", m.Envelope, want)
	}

	got, err := s.Get(m.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("Get =\n%+v\nwant\n%+v", got, m)
	}
	if c := readContent(t, s, m.ID); c != body {
		t.Errorf("content = %q, want %q", c, body)
	}

	// Permissions: the queue holds other people's mail.
	for _, p := range []string{"", "msg", "meta", "quarantine"} {
		fi, err := os.Stat(filepath.Join(s.Dir(), p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s/ mode %v, want 0700", p, fi.Mode().Perm())
		}
	}
	// One file per message until an Update: content, record, trailer.
	if got := files(t, s.Dir()); !slices.Equal(got, []string{"msg/" + m.ID}) {
		t.Errorf("files after Add %v, want the queue file only", got)
	}
	raw, _ := os.ReadFile(s.msgPath(m.ID))
	n, first, ok := parseTrailer(raw[max(len(raw)-trailerLen, 0):])
	if !ok || !first || !strings.HasPrefix(string(raw), body) || int(n) != len(raw)-len(body)-trailerLen {
		t.Errorf("queue file is not the content, a record and a trailer:\n%s", raw)
	} else if _, err := decodeRecord("", m.ID, raw[len(body):len(raw)-trailerLen]); err != nil {
		t.Errorf("the queue file's record: %v", err)
	}
	// An Update appends its record to the queue file while there is room
	// (append.go), then writes meta/ID.json.
	if err := s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := files(t, s.Dir()); !slices.Equal(got, []string{"msg/" + m.ID}) {
		t.Errorf("files after an Update %v, want the queue file only", got)
	}
	after, _ := os.ReadFile(s.msgPath(m.ID))
	n, first, ok = parseTrailer(after[max(len(after)-trailerLen, 0):])
	if !ok || first || !bytes.HasPrefix(after, raw) || int(n) != len(after)-len(raw)-trailerLen {
		t.Errorf("queue file after an Update is not the file before, a record and an update trailer:\n%s", after)
	}
	s.recordsMax = int64(len(after) - len(body)) // full
	if err := s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts = 2; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(m.ID); err != nil || got.Recipients[0].Attempts != 2 {
		t.Errorf("after an Update to meta/: %+v, %v", got, err)
	}
	for _, p := range []string{"msg/" + m.ID, "meta/" + m.ID + ".json"} {
		fi, err := os.Stat(filepath.Join(s.Dir(), p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
}

func TestAddDefaults(t *testing.T) {
	s, _ := openT(t, "")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return now }
	env := testEnvelope()
	env.Arrival = time.Time{}
	env.Recipients[1].State = Failed
	m, err := s.Add(env, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Arrival.Equal(now) {
		t.Errorf("Arrival = %v, want now %v", m.Arrival, now)
	}
	if m.Recipients[0].State != Pending || m.Recipients[1].State != Failed {
		t.Errorf("states %q %q, want pending failed", m.Recipients[0].State, m.Recipients[1].State)
	}
	if env.Recipients[0].State != "" {
		t.Error("Add changed the caller's recipients")
	}
	if m.Size != 0 || readContent(t, s, m.ID) != "" {
		t.Errorf("empty content: Size %d", m.Size)
	}

	// With the real clock, what Add returns is what Get reads back.
	s.now = time.Now
	m, err = s.Add(env, strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(m.ID); err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("Get = %+v, %v; want %+v", got, err, m)
	}
}

func TestIDs(t *testing.T) {
	var g idGen
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := ""
	for i := range 1000 {
		at := now
		if i%3 == 0 {
			at = now.Add(-time.Second) // the clock steps back
		}
		id := g.next(at)
		if !validID(id) {
			t.Fatalf("id %q not valid", id)
		}
		if id <= prev {
			t.Fatalf("id %q after %q: not increasing", id, prev)
		}
		prev = id
	}
	for _, bad := range []string{"", "../../etc/passwd", "0000000000000000-00000000000", "0000000000000000_000000000000",
		"000000000000000G-000000000000", "tmp-000000000000000000000000", "0000000000000000-00000000000A"} {
		if validID(bad) {
			t.Errorf("validID(%q) = true", bad)
		}
	}
}

func TestListOrder(t *testing.T) {
	s, _ := openT(t, "")
	var want []string
	for i := range 5 {
		want = append(want, addT(t, s, strings.Repeat("x", i)).ID)
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, m := range list {
		got = append(got, m.ID)
		if m.Size != int64(i) {
			t.Errorf("message %d Size %d", i, m.Size)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("List order %v, want %v", got, want)
	}
}

func TestUpdatePersists(t *testing.T) {
	s, _ := openT(t, "")
	m := addT(t, s, "body")
	at := time.Date(2026, 3, 15, 11, 0, 0, 0, time.UTC)
	err := s.Update(m.ID, func(m *Message) error {
		r := &m.Recipients[0]
		r.Attempts++
		r.LastAttempt = at
		r.NextAttempt = at.Add(time.Minute)
		r.Last = Result{Class: ClassRetry, Status: "4.4.1", RemoteHost: "mx.fabrikam.test", RemoteText: "451 try later"}
		m.Recipients[1].State = Relayed
		m.Recipients[1].Last = Result{Class: ClassRelayed}
		m.Recipients[1].DelayNotified = true
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want, err := s.Get(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want.Recipients[0].Attempts != 1 || want.Recipients[1].State != Relayed {
		t.Fatalf("Update not seen by Get: %+v", want.Recipients)
	}

	s, rec := reopen(t, s)
	if rec.Resumed != 1 || len(rec.Quarantined)+len(rec.RemovedPartial) != 0 {
		t.Errorf("Recovery = %+v, want 1 resumed", rec)
	}
	got, err := s.Get(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after re-Open\n%+v\nwant\n%+v", got, want)
	}
	if got.Done() {
		t.Error("Done with a pending recipient")
	}
}

func TestUpdateRefuses(t *testing.T) {
	s, _ := openT(t, "")
	m := addT(t, s, "body")
	snapshot := func() string {
		raw, _ := os.ReadFile(s.msgPath(m.ID))
		return strings.Join(files(t, s.Dir()), " ") + "\n" + string(raw)
	}
	before := snapshot()

	errMine := errors.New("mine")
	for name, f := range map[string]func(*Message) error{
		"callback error": func(m *Message) error { m.From = "x"; return errMine },
		"changed ID":     func(m *Message) error { m.ID = "x"; return nil },
		"changed size":   func(m *Message) error { m.Size++; return nil },
		"no recipients":  func(m *Message) error { m.Recipients = nil; return nil },
	} {
		err := s.Update(m.ID, f)
		if err == nil {
			t.Errorf("%s: Update succeeded", name)
		}
		if name == "callback error" && err != errMine {
			t.Errorf("%s: error %v, want the callback's as it is", name, err)
		}
	}
	if after := snapshot(); before != after {
		t.Error("a refused Update changed the record")
	}
	if err := s.Update("0000000000000001-000000000000", func(*Message) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update of a missing ID: %v, want ErrNotFound", err)
	}
}

func TestRemove(t *testing.T) {
	s, _ := openT(t, "")
	keep := addT(t, s, "keep")
	m := addT(t, s, "gone")
	if err := s.Update(m.ID, func(m *Message) error {
		for i := range m.Recipients {
			m.Recipients[i].State = Delivered
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(m.ID); !got.Done() {
		t.Error("Done = false with every recipient delivered")
	}
	if err := s.Remove(m.ID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := s.Get(m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove: %v, want ErrNotFound", err)
	}
	if _, err := s.Open(m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open after Remove: %v, want ErrNotFound", err)
	}
	if err := s.Remove(m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove: %v, want ErrNotFound", err)
	}
	want := []string{"msg/" + keep.ID}
	if got := files(t, s.Dir()); !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
}

func TestBadIDs(t *testing.T) {
	s, _ := openT(t, "")
	for _, id := range []string{"", "../lock", "lock", "tmp-1"} {
		if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v", id, err)
		}
		if _, err := s.Open(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q): %v", id, err)
		}
		if err := s.Remove(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Remove(%q): %v", id, err)
		}
	}
}

func TestAddRefuses(t *testing.T) {
	s, _ := openT(t, "")
	env := testEnvelope()
	env.Recipients = nil
	if _, err := s.Add(env, strings.NewReader("x")); err == nil {
		t.Error("Add with no recipients succeeded")
	}
	// A body that fails half way (the client went away): not a storage
	// error, and nothing left.
	errRead := errors.New("connection reset")
	body := io.MultiReader(strings.NewReader("half"), iotest.ErrReader(errRead))
	_, err := s.Add(testEnvelope(), body)
	if !errors.Is(err, errRead) || errors.Is(err, ErrStorage) {
		t.Errorf("Add with a failing body: %v, want the read error, not ErrStorage", err)
	}
	if got := files(t, s.Dir()); len(got) != 0 {
		t.Errorf("files left: %v", got)
	}
}

func TestLocked(t *testing.T) {
	s, _ := openT(t, "")
	if _, _, err := Open(s.Dir()); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	s.Close()
	s2, _, err := Open(s.Dir())
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestListCorrupt(t *testing.T) {
	s, _ := openT(t, "")
	a := addT(t, s, "a")
	b := addT(t, s, "b")
	if err := os.WriteFile(s.msgPath(a.ID), []byte("a"+`{"format": 1`+string(trailer(12))), 0o600); err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), a.ID) {
		t.Errorf("List error %v, want ErrCorrupt naming %s", err, a.ID)
	}
	if len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("List returned %d messages, want only %s", len(list), b.ID)
	}
	if _, err := s.Get(a.ID); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get of a corrupt record: %v, want ErrCorrupt", err)
	}
}

func TestFinish(t *testing.T) {
	s, _ := openT(t, "")
	m := addT(t, s, "body")
	if len(m.Recipients) < 2 {
		t.Fatalf("test envelope has %d recipients, want 2 or more", len(m.Recipients))
	}
	setAll := func(st State, upto int) func(*Message) error {
		return func(m *Message) error {
			for i := range m.Recipients[:upto] {
				m.Recipients[i].State = st
			}
			return nil
		}
	}
	calls := 0
	done := func(*Message) error { calls++; return nil }

	// Not every recipient final: the record is rewritten, done not called.
	removed, err := s.Finish(m.ID, setAll(Delivered, 1), done)
	if err != nil || removed || calls != 0 {
		t.Fatalf("Finish with a pending recipient = %v, %v (done called %d times)", removed, err, calls)
	}
	if got, _ := s.Get(m.ID); got.Recipients[0].State != Delivered {
		t.Errorf("result not written: %+v", got.Recipients[0])
	}

	// A failing done keeps the message, with its results written.
	removed, err = s.Finish(m.ID, setAll(Failed, len(m.Recipients)), func(*Message) error { return errors.New("report queue full") })
	if removed || err != nil {
		t.Fatalf("Finish with a failing done = %v, %v", removed, err)
	}
	if got, err := s.Get(m.ID); err != nil || !got.Done() {
		t.Fatalf("after a failing done: %v, %+v", err, got)
	}

	// Every recipient final: done sees the final states, the message goes.
	removed, err = s.Finish(m.ID, setAll(Delivered, len(m.Recipients)), func(m *Message) error {
		calls++
		if !m.Done() {
			t.Error("done called before every recipient is final")
		}
		return nil
	})
	if err != nil || !removed || calls != 1 {
		t.Fatalf("Finish = %v, %v (done called %d times)", removed, err, calls)
	}
	if _, err := s.Get(m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Finish removed it: %v", err)
	}
	if got := files(t, s.Dir()); len(got) != 0 {
		t.Errorf("files left: %v", got)
	}
}

// OpenMessage gives the content of a message already read, without its
// record; reading a queue file too short to hold it fails with
// ErrCorrupt.
func TestOpenMessage(t *testing.T) {
	s, _ := openT(t, "")
	m := addT(t, s, "Subject: x\r\n\r\nbody\r\n")
	c, err := s.OpenMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "Subject: x\r\n\r\nbody\r\n" || c.Size() != m.Size {
		t.Errorf("OpenMessage read %q (size %d), want the content only", b, c.Size())
	}
	if err := os.Truncate(s.msgPath(m.ID), 5); err != nil {
		t.Fatal(err)
	}
	c, err = s.OpenMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(c)
	c.Close()
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("reading a truncated queue file: %q, %v; want ErrCorrupt", b, err)
	}
	if err := s.Remove(m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenMessage(m); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenMessage after Remove: %v, want ErrNotFound", err)
	}
}

// CloseClean leaves word of a clean stop for the next Open, which takes
// it (Recovery.Clean) and removes it: a crash of that process, or a Close,
// is not a clean stop.
func TestCleanStop(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "queue")
	open := func() (*Store, *Recovery) {
		t.Helper()
		s, rec, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s, rec
	}
	s, rec := open()
	if rec.Clean {
		t.Error("a new queue opened as after a clean stop")
	}
	addT(t, s, "queued at the stop")
	if err := s.CloseClean(); err != nil {
		t.Fatal(err)
	}
	s, rec = open()
	if !rec.Clean || rec.Resumed != 1 || len(rec.Quarantined)+len(rec.RemovedPartial) != 0 {
		t.Errorf("after CloseClean: %+v, want Clean with the message resumed and nothing else", rec)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanStop)); !os.IsNotExist(err) {
		t.Errorf("the clean stop is still noted after Open: %v", err)
	}
	s.Close()
	s, rec = open()
	if rec.Clean {
		t.Error("after Close: Clean, want not (a crash looks the same)")
	}
	s.Close()
}
