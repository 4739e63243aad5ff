package queue

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Recovery is what Open found in the queue folder.
type Recovery struct {
	Resumed        int               // valid messages, left as they were
	RemovedPartial []string          // temp files and content without a record, removed (paths relative to the queue folder)
	Quarantined    []QuarantinedFile // what was moved to quarantine/
	// Clean says the last process to open the queue stopped cleanly: it
	// closed the queue with CloseClean, not by a crash.
	Clean bool
	// Sync is how the Store makes new files durable; SyncWhy says why
	// Options.Sync "auto" chose SyncFile ("" otherwise).
	Sync    Sync
	SyncWhy string
}

// QuarantinedFile is a message whose record is not valid, or a file whose
// name is not one the queue writes, moved to quarantine/ for a person to
// look at.
type QuarantinedFile struct {
	ID     string   // the message ID, "" for a stray file
	Files  []string // where the files are now, relative to the queue folder
	Reason string   // what is wrong
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// recover brings the folder to a state where every message is valid; see
// the package documentation.
func (s *Store) recover() (*Recovery, error) {
	rec := &Recovery{}
	s.reads.listings.Add(1)
	msgs, err := os.ReadDir(s.msgDir)
	if err != nil {
		return nil, fmt.Errorf("queue: recovery: listing %s: %w", s.msgDir, err)
	}
	metas, err := os.ReadDir(s.metaDir)
	if err != nil {
		return nil, fmt.Errorf("queue: recovery: listing %s: %w", s.metaDir, err)
	}

	records := map[string]bool{} // IDs with a record in meta/
	for _, e := range metas {
		name := e.Name()
		id, isMeta := strings.CutSuffix(name, metaExt)
		switch {
		case strings.HasPrefix(name, tmpPrefix) && e.Type().IsRegular():
			err = s.removePartial(rec, "meta", name)
		case isMeta && validID(id) && e.Type().IsRegular():
			records[id] = true
		default:
			err = s.quarantineFiles(rec, "", "meta/"+name+": not a name the queue writes", "meta/"+name)
		}
		if err != nil {
			return nil, err
		}
	}

	for id := range records {
		s.metas.Store(id, true)
	}
	for _, e := range msgs {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, tmpPrefix) && e.Type().IsRegular():
			err = s.removePartial(rec, "msg", name)
		case isFreeName(name) && e.Type().IsRegular():
			// A removed queue file the last run kept for reuse: not a
			// partial message, nothing to report (doc.go, "Reuse").
			if rerr := s.fs.Remove(filepath.Join(s.msgDir, name)); rerr != nil && !isNotExist(rerr) {
				err = storageErr("recovery: removing", filepath.Join(s.msgDir, name), rerr)
			}
		case validID(name) && e.Type().IsRegular():
			err = s.recoverMessage(rec, name, records[name])
			delete(records, name) // what is left at the end has no queue file
		default:
			err = s.quarantineFiles(rec, "", "msg/"+name+": not a name the queue writes", "msg/"+name)
		}
		if err != nil {
			return nil, err
		}
	}

	// A record without a queue file: a Remove that did not finish.
	for _, e := range metas {
		if id, _ := strings.CutSuffix(e.Name(), metaExt); records[id] {
			if err := s.removePartial(rec, "meta", e.Name()); err != nil {
				return nil, err
			}
			s.metas.Delete(id)
		}
	}

	if len(rec.RemovedPartial) > 0 || len(rec.Quarantined) > 0 {
		for _, d := range []string{s.msgDir, s.metaDir, s.quarantine} {
			if err := s.fs.SyncDir(d); err != nil {
				return nil, storageErr("recovery: syncing folder", d, err)
			}
		}
	}
	return rec, nil
}

// recoverMessage resumes message id if its record is valid and its queue
// file holds the content the record says, and quarantines it otherwise.
// hasMeta says whether meta/ID.json exists.
func (s *Store) recoverMessage(rec *Recovery, id string, hasMeta bool) error {
	files := []string{"msg/" + id}
	if hasMeta {
		files = append(files, "meta/"+id+metaExt)
	}
	f, err := openRead(s.msgPath(id))
	if err != nil {
		return fmt.Errorf("queue: recovery: %w", err)
	}
	m, err := s.readRecord(id, f)
	f.Close()
	if err == nil {
		rec.Resumed++
		if s.scan != nil {
			s.scan(m)
		}
		return nil
	}
	if !errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("queue: recovery: %w", err)
	}
	// Name the files relative to the queue folder, as Files does.
	reason := strings.ReplaceAll(strings.TrimPrefix(err.Error(), "queue: "), s.dir+string(filepath.Separator), "")
	return s.quarantineFiles(rec, id, reason, files...)
}

// removePartial removes dir/name (relative to the queue folder).
func (s *Store) removePartial(rec *Recovery, dir, name string) error {
	p := filepath.Join(s.dir, dir, name)
	if err := s.fs.Remove(p); err != nil && !isNotExist(err) {
		return storageErr("recovery: removing partial file", p, err)
	}
	rec.RemovedPartial = append(rec.RemovedPartial, dir+"/"+name)
	return nil
}

// quarantineFiles moves files (relative to the queue folder) into
// quarantine/, keeping their names (with ".N" added if taken).
func (s *Store) quarantineFiles(rec *Recovery, id, reason string, files ...string) error {
	q := QuarantinedFile{ID: id, Reason: reason}
	for _, f := range files {
		src := filepath.Join(s.dir, f)
		base := filepath.Base(f)
		dst := filepath.Join(s.quarantine, base)
		for n := 2; ; n++ {
			if _, err := os.Lstat(dst); isNotExist(err) {
				break
			}
			dst = filepath.Join(s.quarantine, fmt.Sprintf("%s.%d", base, n))
		}
		if err := s.fs.Rename(src, dst); err != nil {
			return storageErr("recovery: moving to quarantine", src, err)
		}
		q.Files = append(q.Files, "quarantine/"+filepath.Base(dst))
	}
	rec.Quarantined = append(rec.Quarantined, q)
	return nil
}
