package queue

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// journalFS is the real file system that numbers the renames into msg/
// and the start and end of each fsync of msg/, so that a test can check
// which fsync covered which rename. The first fsync of msg/ after gate is
// set waits until hold renames have been done, so that the other Adds
// meet while it runs; failAt makes the fsync of msg/ with that number
// (1-based) fail.
type journalFS struct {
	osFS
	mu      sync.Mutex
	seq     int
	renamed map[string]int // final path -> seq of its rename
	syncs   []syncSpan     // fsyncs of msg/, in order of start
	hold    int            // renames the gated fsync waits for; 0: no gate
	renames int
	gated   bool
	cond    *sync.Cond
	failAt  int
}

type syncSpan struct{ start, end int }

func newJournalFS() *journalFS {
	j := &journalFS{renamed: map[string]int{}}
	j.cond = sync.NewCond(&j.mu)
	return j
}

func (j *journalFS) tick() int { j.seq++; return j.seq }

// now returns a sequence number, for a moment seen by the test.
func (j *journalFS) now() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.tick()
}

func (j *journalFS) Rename(oldpath, newpath string) error {
	err := j.osFS.Rename(oldpath, newpath)
	j.mu.Lock()
	defer j.mu.Unlock()
	if err == nil && filepath.Base(filepath.Dir(newpath)) == "msg" {
		j.renamed[newpath] = j.tick()
		j.renames++
		j.cond.Broadcast()
	}
	return err
}

func (j *journalFS) SyncDir(dir string) error {
	if filepath.Base(dir) != "msg" {
		return j.osFS.SyncDir(dir)
	}
	j.mu.Lock()
	n := len(j.syncs)
	j.syncs = append(j.syncs, syncSpan{start: j.tick()})
	if j.hold > 0 && !j.gated {
		j.gated = true
		for j.renames < j.hold {
			j.cond.Wait()
		}
	}
	fail := n+1 == j.failAt
	j.mu.Unlock()

	err := j.osFS.SyncDir(dir)
	if fail {
		err = errInjected
	}
	j.mu.Lock()
	j.syncs[n].end = j.tick()
	j.mu.Unlock()
	return err
}

// covered reports whether an fsync of msg/ that started after path was
// renamed had ended by the moment at, and whether that fsync failed.
func (j *journalFS) covered(path string, at int) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	r, ok := j.renamed[path]
	if !ok {
		return false
	}
	for _, s := range j.syncs {
		if s.start > r && s.end != 0 && s.end < at {
			return true
		}
	}
	return false
}

func (j *journalFS) syncCount() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.syncs)
}

// addAll runs n Adds at once and returns each one's message (nil when it
// failed), error, and the moment it returned.
func addAll(s *Store, j *journalFS, n int) ([]*Message, []error, []int) {
	msgs, errs, at := make([]*Message, n), make([]error, n), make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			msgs[i], errs[i] = s.Add(testEnvelope(), strings.NewReader(fmt.Sprintf("message %d", i)))
			at[i] = j.now()
		})
	}
	wg.Wait()
	return msgs, errs, at
}

// Sessions that finish together share fsyncs of msg/, and each Add returns
// only once an fsync that started after its own rename has ended.
func TestAddGroupCommit(t *testing.T) {
	j := newJournalFS()
	s, _, err := open(filepath.Join(t.TempDir(), "queue"), j)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const adds = 32
	j.mu.Lock()
	j.syncs, j.hold = nil, adds // the first fsync of msg/ waits for every rename
	j.mu.Unlock()

	msgs, errs, at := addAll(s, j, adds)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
		if !j.covered(s.msgPath(msgs[i].ID), at[i]) {
			t.Errorf("Add %d (%s) returned before an fsync of msg/ begun after its rename had ended", i, msgs[i].ID)
		}
	}
	n := j.syncCount()
	t.Logf("%d Adds, %d fsyncs of msg/", adds, n)
	if n >= adds {
		t.Errorf("%d fsyncs of msg/ for %d Adds that finished together, want fewer (a shared fsync)", n, adds)
	}
	_, rec := reopen(t, s)
	if rec.Resumed != adds {
		t.Errorf("Recovery = %+v, want %d resumed", rec, adds)
	}
}

// A failed shared fsync of msg/ reaches every Add that waited for it, as
// ErrStorage, and none of their messages stays in the queue; the Adds
// covered by another fsync are unaffected.
func TestAddGroupCommitFailure(t *testing.T) {
	j := newJournalFS()
	s, _, err := open(filepath.Join(t.TempDir(), "queue"), j)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const adds = 32
	j.mu.Lock()
	j.syncs, j.hold, j.failAt = nil, adds, 2 // the round gathered behind the first fails
	j.mu.Unlock()

	msgs, errs, _ := addAll(s, j, adds)
	var ok, failed []string
	for i, err := range errs {
		switch {
		case err == nil:
			ok = append(ok, "msg/"+msgs[i].ID)
		case errors.Is(err, ErrStorage) && errors.Is(err, errInjected) && msgs[i] == nil:
			failed = append(failed, fmt.Sprint(i))
			if !strings.Contains(err.Error(), "syncing folder") {
				t.Errorf("Add %d: error %q does not say what failed", i, err)
			}
		default:
			t.Errorf("Add %d = %v, %v; want a message, or nil and ErrStorage", i, msgs[i], err)
		}
	}
	t.Logf("%d Adds: %d ok, %d failed by the shared fsync; %d fsyncs of msg/", adds, len(ok), len(failed), j.syncCount())
	if len(failed) < 2 {
		t.Fatalf("%d Adds failed, want every Add of the failed shared fsync (at least 2)", len(failed))
	}
	if len(ok) == 0 {
		t.Errorf("no Add succeeded: the Add of the first fsync should have")
	}
	slices.Sort(ok)
	if got := files(t, s.Dir()); !slices.Equal(got, ok) {
		t.Errorf("files after the failed fsync %v, want only the %d added", got, len(ok))
	}
	_, rec := reopen(t, s)
	if rec.Resumed != len(ok) || len(rec.RemovedPartial)+len(rec.Quarantined) != 0 {
		t.Errorf("Recovery = %+v, want %d resumed and nothing to repair", rec, len(ok))
	}
}

// gateSyncer is a syncfs that waits for a result on its channel.
type gateSyncer struct {
	running chan struct{} // a receive when a call starts
	result  chan error
}

func (g *gateSyncer) SyncFS() error { g.running <- struct{}{}; return <-g.result }
func (g *gateSyncer) Close() error  { return nil }

// With syncfs rounds, the kernel reports a write error to the first
// syncfs after it, whichever caller that is: a file written while a round
// ran may have its error taken by that round. A writer whose round
// succeeded fails all the same when a round since its mark failed; a
// writer that began after the failed round ended does not.
func TestSyncSinceFailedRound(t *testing.T) {
	g := &gateSyncer{running: make(chan struct{}), result: make(chan error)}
	d := newDirSync(osFS{}, t.TempDir())
	d.syncer = g

	first := make(chan error)
	go func() { first <- d.sync() }() // a round that will fail
	<-g.running
	mark := d.mark() // a writer begins while it runs
	g.result <- errInjected
	if err := <-first; !errors.Is(err, errInjected) {
		t.Fatalf("first round: %v, want the injected error", err)
	}

	own := make(chan error)
	go func() { own <- d.syncSince(mark) }() // the writer's round
	<-g.running
	g.result <- nil
	if err := <-own; err == nil || !strings.Contains(err.Error(), "may have taken its write error") {
		t.Errorf("writer whose mark is the failed round: %v, want an error", err)
	}

	later := d.mark() // a writer that begins after the failure
	go func() { own <- d.syncSince(later) }()
	<-g.running
	g.result <- nil
	if err := <-own; err != nil {
		t.Errorf("writer that began after the failed round: %v, want nil", err)
	}

	// A queue file kept for reuse whose removal was made while the failed
	// round ran is never written over: its removal may be lost.
	if ok, lost := d.durable(mark + 1); ok || !lost {
		t.Errorf("durable(ticket of a removal during the failed round) = %v, %v; want lost", ok, lost)
	}
	if ok, lost := d.durable(later); !ok || lost {
		t.Errorf("durable(ticket of a removal after it) = %v, %v; want durable", ok, lost)
	}
}
