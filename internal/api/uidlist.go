package api

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/durable"
)

// The mailbox sync state works as IMAP's UIDs do (RFC 9051 section 2.3.1.1,
// and Dovecot's dovecot-uidlist for Maildir): the hub gives every message
// of a Maildir, when it first lists it, the next number of that mailbox,
// and keeps the numbers in the file waypost-uidlist inside the Maildir,
// with a validity value that changes if the file is ever lost. The state a
// client gets is "VALIDITY.LAST", the validity and the highest number
// handed out; ?since=VALIDITY.LAST lists the messages numbered above LAST.
// The file is written (temp file, fsync, rename, fsync of the folder)
// before the answer that hands out its numbers, so a number is never
// given to two messages.

// uidListName is the file of the numbers, inside the Maildir.
const uidListName = "waypost-uidlist"

// uidList is the numbering of one Maildir.
type uidList struct {
	validity uint64            // 0: no list yet (the Maildir does not exist)
	next     uint64            // the number the next new message gets
	uids     map[string]uint64 // unique name (the file name up to ':') -> number
}

// state is the sync token of the list: "VALIDITY.LAST".
func (l *uidList) state() string { return fmt.Sprintf("%d.%d", l.validity, l.next-1) }

// syncState is a parsed since= token.
type syncState struct{ validity, last uint64 }

var stateRE = regexp.MustCompile(`^([0-9]{1,20})\.([0-9]{1,20})$`)

// parseState parses "VALIDITY.LAST".
func parseState(s string) (syncState, error) {
	m := stateRE.FindStringSubmatch(s)
	if m == nil {
		return syncState{}, errors.New("not a mailbox state (two numbers joined by a dot, from an earlier answer's \"state\")")
	}
	v, err1 := strconv.ParseUint(m[1], 10, 64)
	l, err2 := strconv.ParseUint(m[2], 10, 64)
	if err1 != nil || err2 != nil {
		return syncState{}, errors.New("a number of the mailbox state is too large")
	}
	return syncState{validity: v, last: l}, nil
}

// msgFile is one message file of a Maildir.
type msgFile struct {
	id    string // unique name: the file name up to ':'
	path  string
	mtime time.Time
	size  int64
	uid   uint64
}

// scanMaildir lists the messages in new/ and cur/ of dir. A missing
// Maildir has no messages (exists false).
func scanMaildir(dir string) (files []msgFile, exists bool, err error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, true, err
		}
		for _, e := range ents {
			id, _, _ := strings.Cut(e.Name(), ":")
			if !e.Type().IsRegular() || !validID(id) {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue // gone since ReadDir
			}
			files = append(files, msgFile{id: id, path: filepath.Join(dir, sub, e.Name()), mtime: info.ModTime(), size: info.Size()})
		}
	}
	return files, true, nil
}

// validID reports whether id can be the unique name of a message file:
// not empty, at most 255 bytes, not starting with a dot, and without '/',
// ':' or control characters. Files are only ever found by comparing ids
// with the names a folder lists, never by joining an id to a path; this
// check answers bad ids early and clearly.
func validID(id string) bool {
	if id == "" || len(id) > 255 || id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; b < 0x20 || b == 0x7f || b == '/' || b == ':' {
			return false
		}
	}
	return true
}

// syncUIDs numbers the messages of the Maildir dir: it reads the list,
// gives new messages the next numbers (oldest file first), forgets removed
// ones, writes the list back when it changed, and returns the messages
// with their numbers, in number order. reset says why an unreadable list
// was replaced by a new numbering. The caller holds the folder's lock.
func syncUIDs(dir string, now time.Time) (list *uidList, files []msgFile, reset, err error) {
	files, exists, err := scanMaildir(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	if !exists {
		return &uidList{next: 1, uids: map[string]uint64{}}, nil, nil, nil
	}
	path := filepath.Join(dir, uidListName)
	list, err = readUIDList(path)
	changed := false
	if err != nil {
		// No list yet, or one that cannot be read: a new numbering, with a
		// new validity, so that clients list the mailbox again in full.
		if !errors.Is(err, fs.ErrNotExist) {
			reset = fmt.Errorf("%s: %w; numbering the messages anew", path, err)
		}
		list = &uidList{validity: uint64(now.UnixNano()), next: 1, uids: map[string]uint64{}}
		changed = true
	}
	sort.Slice(files, func(i, j int) bool {
		if !files[i].mtime.Equal(files[j].mtime) {
			return files[i].mtime.Before(files[j].mtime)
		}
		return files[i].id < files[j].id
	})
	seen := make(map[string]bool, len(files))
	kept := files[:0]
	for _, f := range files {
		if seen[f.id] {
			continue // the same message in new/ and cur/ for a moment
		}
		seen[f.id] = true
		uid, ok := list.uids[f.id]
		if !ok {
			uid = list.next
			list.next++
			list.uids[f.id] = uid
			changed = true
		}
		f.uid = uid
		kept = append(kept, f)
	}
	files = kept
	for id := range list.uids {
		if !seen[id] {
			delete(list.uids, id)
			changed = true
		}
	}
	if changed {
		if err := writeUIDList(path, list); err != nil {
			return nil, nil, reset, err
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].uid < files[j].uid })
	return list, files, reset, nil
}

// readUIDList reads the list file at path.
func readUIDList(path string) (*uidList, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseUIDList(f)
}

// parseUIDList parses a list: the line "waypost-uidlist 1 VALIDITY NEXT",
// then one line "UID UNIQUE-NAME" per message.
func parseUIDList(r io.Reader) (*uidList, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("empty uid list")
	}
	var l uidList
	head := strings.Fields(sc.Text())
	if len(head) != 4 || head[0] != "waypost-uidlist" || head[1] != "1" {
		return nil, fmt.Errorf("line 1: %q is not a uid list header", sc.Text())
	}
	var err1, err2 error
	l.validity, err1 = strconv.ParseUint(head[2], 10, 64)
	l.next, err2 = strconv.ParseUint(head[3], 10, 64)
	if err1 != nil || err2 != nil || l.validity == 0 || l.next == 0 {
		return nil, fmt.Errorf("line 1: %q is not a uid list header", sc.Text())
	}
	l.uids = map[string]uint64{}
	taken := map[uint64]bool{}
	for line := 2; sc.Scan(); line++ {
		num, id, ok := strings.Cut(sc.Text(), " ")
		uid, err := strconv.ParseUint(num, 10, 64)
		if !ok || err != nil || uid == 0 || uid >= l.next || !validID(id) {
			return nil, fmt.Errorf("line %d: %q is not \"UID NAME\" with UID below %d", line, sc.Text(), l.next)
		}
		if _, dup := l.uids[id]; dup || taken[uid] {
			return nil, fmt.Errorf("line %d: %q repeats a name or number", line, sc.Text())
		}
		l.uids[id], taken[uid] = uid, true
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return &l, nil
}

// format is the text of the list file.
func (l *uidList) format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "waypost-uidlist 1 %d %d\n", l.validity, l.next)
	ids := make([]string, 0, len(l.uids))
	for id := range l.uids {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return l.uids[ids[i]] < l.uids[ids[j]] })
	for _, id := range ids {
		fmt.Fprintf(&b, "%d %s\n", l.uids[id], id)
	}
	return b.String()
}

// writeUIDList replaces the list on disk, atomically and durably.
func writeUIDList(path string, l *uidList) error {
	return durable.WriteFile(path, []byte(l.format()), 0o600)
}
