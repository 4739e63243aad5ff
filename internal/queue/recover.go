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
	msgs, err := os.ReadDir(s.msgDir)
	if err != nil {
		return nil, fmt.Errorf("queue: recovery: listing %s: %w", s.msgDir, err)
	}
	metas, err := os.ReadDir(s.metaDir)
	if err != nil {
		return nil, fmt.Errorf("queue: recovery: listing %s: %w", s.metaDir, err)
	}

	content := map[string]int64{} // size of msg/ID by ID
	for _, e := range msgs {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, tmpPrefix) && e.Type().IsRegular():
			if err := s.removePartial(rec, "msg", name); err != nil {
				return nil, err
			}
		case validID(name) && e.Type().IsRegular():
			info, err := e.Info()
			if err != nil {
				return nil, fmt.Errorf("queue: recovery: %s: %w", s.msgPath(name), err)
			}
			content[name] = info.Size()
		default:
			if err := s.quarantineFiles(rec, "", "msg/"+name+": not a name the queue writes", "msg/"+name); err != nil {
				return nil, err
			}
		}
	}

	for _, e := range metas {
		name := e.Name()
		id, isMeta := strings.CutSuffix(name, metaExt)
		switch {
		case strings.HasPrefix(name, tmpPrefix) && e.Type().IsRegular():
			if err := s.removePartial(rec, "meta", name); err != nil {
				return nil, err
			}
			continue
		case !isMeta || !validID(id) || !e.Type().IsRegular():
			if err := s.quarantineFiles(rec, "", "meta/"+name+": not a name the queue writes", "meta/"+name); err != nil {
				return nil, err
			}
			continue
		}

		size, hasContent := content[id]
		delete(content, id) // what is left in content at the end has no record
		files := []string{"meta/" + name}
		if hasContent {
			files = append(files, "msg/"+id)
		}
		var reason string
		m, err := s.readRecovering(id)
		switch {
		case err != nil:
			reason = strings.TrimPrefix(err.Error(), "queue: ")
		case !hasContent:
			reason = fmt.Sprintf("%s: content file msg/%s is missing", files[0], id)
		case size != m.Size:
			reason = fmt.Sprintf("%s: content file msg/%s has %d bytes, the record says %d", files[0], id, size, m.Size)
		default:
			rec.Resumed++
			continue
		}
		if err := s.quarantineFiles(rec, id, reason, files...); err != nil {
			return nil, err
		}
	}

	// Content without a record: an Add that did not finish.
	for _, e := range msgs {
		if _, partial := content[e.Name()]; partial {
			if err := s.removePartial(rec, "msg", e.Name()); err != nil {
				return nil, err
			}
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

// readRecovering reads the record of id like read, naming the file
// relative to the queue folder in errors.
func (s *Store) readRecovering(id string) (*Message, error) {
	data, err := os.ReadFile(s.metaPath(id))
	if err != nil {
		return nil, fmt.Errorf("meta/%s%s: cannot read: %w", id, metaExt, err)
	}
	return decodeRecord("meta/"+id+metaExt, id, data)
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
