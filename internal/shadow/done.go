package shadow

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/waypost/waypost/internal/durable"
)

// Keep is how long a hub remembers that it delivered a message onward,
// to answer Done to a hub that keeps a shadow of it: an hour, or twelve
// heartbeat timeouts when that is longer. A keeper asks every fifth of
// the timeout, so it hears Done well within that; one that could not ask
// for longer (it was down) hears Unknown and delivers its shadow: a
// duplicate, never a loss. Bounded so that a busy hub's set stays small.
func Keep(heartbeatTimeout time.Duration) time.Duration { return max(time.Hour, 12*heartbeatTimeout) }

// Discharged is the set of queue IDs a hub delivered onward, kept in
// memory and appended to a file (one "ID UNIXSECONDS" line each) so that
// a restart remembers them. The file is not fsynced: a machine crash may
// lose the last lines, and then a holder of a shadow hears Unknown and
// delivers a duplicate, which the contract allows (a crash may duplicate,
// never lose). Lines older than its keep time are dropped when the file
// is opened and when it
// has grown to twice the lines it needs. Safe for concurrent use.
type Discharged struct {
	mu     sync.Mutex
	path   string
	f      *os.File
	ids    map[string]time.Time
	lines  int           // in the file
	keep   time.Duration // how long an ID is remembered (Keep)
	pruned time.Time     // the last rewrite, which forgets old IDs
	now    func() time.Time
}

// OpenDischarged opens (creating) the file at path, reads the IDs of the
// last keep and rewrites the file with them alone.
func OpenDischarged(path string, keep time.Duration) (*Discharged, error) {
	d := &Discharged{path: path, ids: map[string]time.Time{}, keep: keep, now: time.Now}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("shadow: %w", err)
	}
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			id, sec, ok := strings.Cut(sc.Text(), " ")
			n, err := strconv.ParseInt(sec, 10, 64)
			if ok && err == nil && validID(id) {
				d.ids[id] = time.Unix(n, 0)
			}
		}
		f.Close() // a torn last line is skipped: at worst a duplicate
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("shadow: reading %s: %w", path, err)
	}
	if err := d.rewrite(); err != nil {
		return nil, err
	}
	return d, nil
}

// rewrite writes the file anew with the IDs of the last keep (temp
// file, rename) and opens it for appending; d.mu held or d not shared.
func (d *Discharged) rewrite() error {
	cut := d.now().Add(-d.keep)
	var b strings.Builder
	for id, t := range d.ids {
		if t.Before(cut) {
			delete(d.ids, id)
			continue
		}
		fmt.Fprintf(&b, "%s %d\n", id, t.Unix())
	}
	if err := durable.WriteFile(d.path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("shadow: writing %s: %w", d.path, err)
	}
	if d.f != nil {
		d.f.Close()
	}
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("shadow: %w", err)
	}
	d.f, d.lines, d.pruned = f, len(d.ids), d.now()
	return nil
}

// Add remembers that id was delivered onward. The line is written at
// once (one write, no fsync): a killed process loses nothing of it.
func (d *Discharged) Add(id string) error {
	id = strings.ToLower(id)
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.ids[id] = now
	if d.f == nil {
		return nil // closed
	}
	if d.lines > 2*len(d.ids)+1000 || now.Sub(d.pruned) > d.keep {
		d.pruned = now
		return d.rewrite()
	}
	d.lines++
	if _, err := fmt.Fprintf(d.f, "%s %d\n", id, now.Unix()); err != nil {
		return fmt.Errorf("shadow: appending to %s: %w", d.path, err)
	}
	return nil
}

// Has reports whether id was delivered onward within the keep time.
func (d *Discharged) Has(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.ids[strings.ToLower(id)]
	return ok && d.now().Sub(t) < d.keep
}

// Close closes the file.
func (d *Discharged) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}

// Answer is what a hub answers about id: Pending while queued says its
// queue holds it, Done when d remembers it, else Unknown.
func Answer(id string, queued func(string) bool, d *Discharged) Status {
	switch {
	case queued(id):
		return Pending
	case d != nil && d.Has(id):
		return Done
	}
	return Unknown
}
