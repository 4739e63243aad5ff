package embedded

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/waypost/waypost/internal/directory"
)

// Record is one entry read from an import file, with the line it starts on.
type Record struct {
	Line  int
	Entry *directory.Entry
}

// LineError is a problem with one line of an import file.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// LineErrors is every problem found in an import file, in line order.
type LineErrors []*LineError

// maxShown bounds the problems an error message lists.
const maxShown = 50

func (es LineErrors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i == maxShown {
			fmt.Fprintf(&b, "... and %d more problems", len(es)-maxShown)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// ImportOptions says how to check what is imported.
type ImportOptions struct {
	File string // named in errors
	// Errors are the problems already found while reading the file: they
	// are reported with the others, and nothing is imported.
	Errors error
	// Server returns the name of a home server as the organization writes
	// it, or false when the organization has no such server (nil: any).
	Server func(name string) (string, bool)
}

// Import adds every record, or none: all records are checked first (each
// entry, home servers, addresses repeated in the file or already in the
// store), every problem is reported with its line, and only a file
// without problems is written, in one transaction.
func (s *Store) Import(recs []Record, opt ImportOptions) (int, error) {
	var errs LineErrors
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &LineError{File: opt.File, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	var read LineErrors
	if errors.As(opt.Errors, &read) {
		errs = append(errs, read...)
	} else if opt.Errors != nil {
		return 0, opt.Errors
	}
	type keyRef struct {
		key string
		rec int
	}
	var refs []keyRef
	firstLine := map[string]int{}
	for i, r := range recs {
		e := r.Entry
		if err := Check(e); err != nil {
			bad(r.Line, "%s %q: %v", orKind(e.Kind), e.Name, err)
		}
		if e.Kind == directory.Mailbox && e.Server != "" && opt.Server != nil {
			if name, ok := opt.Server(e.Server); ok {
				e.Server = name
			} else {
				bad(r.Line, "mailbox %q names server %q, which the organization does not have", e.Name, e.Server)
			}
		}
		for _, p := range e.Addresses {
			k := p.Key()
			if l, dup := firstLine[k]; dup {
				if l != r.Line {
					bad(r.Line, "address %s of %q is already on line %d", p, e.Name, l)
				}
				continue
			}
			firstLine[k] = r.Line
			refs = append(refs, keyRef{k, i})
		}
	}
	// Sorted keys go into bbolt's B+tree in order, which is far faster
	// than at random.
	sort.Slice(refs, func(i, j int) bool { return refs[i].key < refs[j].key })
	inStore := func(tx *bolt.Tx) error {
		entries, keys := tx.Bucket(bucketEntries), tx.Bucket(bucketKeys)
		for _, ref := range refs {
			if id := keys.Get([]byte(ref.key)); id != nil {
				owner, err := get(entries, id)
				if err != nil {
					return err
				}
				r := recs[ref.rec]
				bad(r.Line, "address %s of %q already belongs to %q in the directory", ref.key, r.Entry.Name, owner.Name)
			}
		}
		if len(errs) > 0 {
			sortLineErrors(errs)
			return errs
		}
		return nil
	}
	if len(errs) > 0 {
		// Nothing will be written: report the clashes with the store too.
		if err := s.db.View(inStore); err != nil {
			return 0, err
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := inStore(tx); err != nil {
			return err
		}
		entries, keys, types := tx.Bucket(bucketEntries), tx.Bucket(bucketKeys), tx.Bucket(bucketTypes)
		fresh := entries.Stats().KeyN == 0
		if fresh {
			entries.FillPercent, keys.FillPercent, types.FillPercent = 1, 1, 1
		}
		ids := make([][]byte, len(recs))
		var tkeys [][]byte
		for i, r := range recs {
			n, err := entries.NextSequence()
			if err != nil {
				return err
			}
			ids[i] = idBytes(n)
			if err := entries.Put(ids[i], encode(r.Entry)); err != nil {
				return err
			}
			for _, p := range r.Entry.Addresses {
				tkeys = append(tkeys, typeKey(p.Type, ids[i]))
			}
		}
		for _, ref := range refs {
			if err := keys.Put([]byte(ref.key), ids[ref.rec]); err != nil {
				return err
			}
		}
		sort.Slice(tkeys, func(i, j int) bool { return bytes.Compare(tkeys[i], tkeys[j]) < 0 })
		for i, k := range tkeys {
			if i > 0 && bytes.Equal(k, tkeys[i-1]) {
				continue // two addresses of one type
			}
			if err := types.Put(k, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(recs), nil
}

func orKind(k directory.Kind) string {
	if k == "" {
		return "entry"
	}
	return string(k)
}
