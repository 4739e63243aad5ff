package queue

import (
	"fmt"
	"sync"
)

// dirSync is the group commit of one folder's fsync. Sessions that finish
// DATA at the same moment each write, fsync and rename their own queue
// file, then ask for the folder to be fsynced; one fsync of the folder
// makes every rename done before it started durable, so the callers that
// arrive while an fsync runs share the next one instead of each paying
// for their own. At most one fsync of the folder runs at a time.
//
// Each call returns only after an fsync that started after the call
// began has ended, with that fsync's error: an error reaches exactly the
// callers whose renames that fsync was to cover.
//
// With Sync "filesystem" a round is one syncfs(2) of the whole file system
// instead (syncer): it makes durable the data of every file written and
// every name changed before it started, so a writer of a new file asks
// for two rounds, one after writing (its data) and one after its rename
// (its name), and the rounds of writers one step apart are the same calls.
type dirSync struct {
	fs     fsys
	dir    string
	syncer fsSyncer // nil: rounds fsync the folder

	mu   sync.Mutex
	cur  *syncRound // the round whose fsync runs, or nil
	next *syncRound // the round gathering callers while cur runs, or nil

	// Rounds are numbered in the order their fsyncs start (one at a
	// time): started is the last number given, synced the last round
	// whose fsync succeeded, failed the last one whose fsync failed. A
	// ticket (reuse.go) tells whether a change made before it is durable.
	started, synced, failed uint64
}

// syncRound is one fsync of the folder and the callers it covers.
type syncRound struct {
	seq  uint64        // its number, given when its fsync starts
	done chan struct{} // closed when the fsync has ended
	err  error         // its error, set before done is closed
}

func newDirSync(fs fsys, dir string) *dirSync { return &dirSync{fs: fs, dir: dir} }

// sync makes durable every change to the folder's names made before the
// call (a rename or a new file), and returns the error of the fsync that
// did it.
func (d *dirSync) sync() error {
	d.mu.Lock()
	if r := d.next; r != nil {
		// A round is gathering and its fsync has not started: it covers
		// this caller's rename.
		d.mu.Unlock()
		<-r.done
		return r.err
	}
	// This caller opens a round and leads it: it waits for the running
	// fsync (which may have started before the rename), then runs one for
	// everyone who joined meanwhile.
	r := &syncRound{done: make(chan struct{})}
	prev := d.cur
	d.next = r
	d.mu.Unlock()
	if prev != nil {
		<-prev.done
	}
	d.mu.Lock()
	d.next, d.cur = nil, r // from here, newcomers gather for the round after
	d.started++
	r.seq = d.started
	d.mu.Unlock()

	r.err = d.flush()

	d.mu.Lock()
	if r.err == nil {
		d.synced = max(d.synced, r.seq)
	} else {
		d.failed = max(d.failed, r.seq)
	}
	if d.cur == r {
		d.cur = nil
	}
	d.mu.Unlock()
	close(r.done)
	return r.err
}

// mark is taken before a file is written whose data a syncfs round is
// to make durable (syncSince): the number of the round running now, or of
// the next one.
func (d *dirSync) mark() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur != nil {
		return d.cur.seq
	}
	return d.started + 1
}

// syncSince is sync for a writer that took mark before it began to
// write. The kernel reports a write error to the first syncfs that runs
// after it, which may be a round before the one that covers the writer's
// call: any round since mark that failed may have taken the writer's
// error, so it fails the writer too. (A folder fsync reports its own
// errors: there, syncSince is sync.)
func (d *dirSync) syncSince(mark uint64) error {
	if err := d.sync(); err != nil || d.syncer == nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failed >= mark {
		return fmt.Errorf("syncfs of %s: round %d failed while this file was written, and may have taken its write error", d.dir, d.failed)
	}
	return nil
}

// flush is one round's fsync of the folder, or syncfs of its file system.
func (d *dirSync) flush() error {
	if d.syncer != nil {
		return d.syncer.SyncFS()
	}
	return d.fs.SyncDir(d.dir)
}

// ticket is taken after a change to the folder's names (a rename, a
// removal): the change is durable once a round numbered ticket or later
// has ended without error (durable).
func (d *dirSync) ticket() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.started + 1 // the round running now may have begun before the change
}

// durable says whether the change of a ticket is durable (ok), and
// whether it may never be known to be (lost): a round that was to cover
// it failed, and after a failed fsync the kernel may have dropped the
// change (fsync(2), "ERRORS"), whatever later rounds say.
//
// With syncfs rounds, a failure of the round that ran during the change
// (ticket-1) may have been the change's own (syncSince).
func (d *dirSync) durable(ticket uint64) (ok, lost bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failed >= ticket || d.syncer != nil && d.failed > 0 && d.failed >= ticket-1 {
		return false, true
	}
	return d.synced >= ticket, false
}

// dirSyncs holds a Store's group commits, one per folder; the zero value
// is ready for use.
type dirSyncs struct {
	mu sync.Mutex
	m  map[string]*dirSync
}

// setSyncer makes dir's rounds syncfs calls through syncer; before any get.
func (ds *dirSyncs) setSyncer(fs fsys, dir string, syncer fsSyncer) {
	ds.get(fs, dir).syncer = syncer
}

// close closes the syncers.
func (ds *dirSyncs) close() error {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	var first error
	for _, d := range ds.m {
		if d.syncer != nil {
			if err := d.syncer.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

func (ds *dirSyncs) get(fs fsys, dir string) *dirSync {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	d := ds.m[dir]
	if d == nil {
		if ds.m == nil {
			ds.m = make(map[string]*dirSync)
		}
		d = newDirSync(fs, dir)
		ds.m[dir] = d
	}
	return d
}
