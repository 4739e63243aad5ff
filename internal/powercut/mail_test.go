package powercut_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/powercut"
	"github.com/waypost/waypost/internal/queue"
)

// TestHubPowerCut replays every power cut (the method of ALICE, Pillai
// et al., OSDI 2014, and CrashMonkey, Mohan et al., OSDI 2018: see the
// package documentation) of a hub's life on disk: the queue folder
// created, messages received (queue Add), an attempt recorded (Update),
// Maildir deliveries (a first one creating the mailboxes), a drop
// delivery, each followed by the queue finishing the message, and a
// message still queued at the end. For every state it reopens the queue
// and reads the mailboxes and the drop folder, and checks what a hub
// promises: recovery never fails nor quarantines anything; a message whose
// Add returned is in the queue with its content, or delivered to every
// recipient; a delivery the agent reported is never lost; no mailbox
// holds a partial message or two copies of one; an Update that returned
// is not undone (until the message is finished).
func TestHubPowerCut(t *testing.T) { eachSync(t, testHubPowerCut) }

func testHubPowerCut(t *testing.T, mode queue.Sync) {
	root := t.TempDir()
	rec, err := powercut.New(root)
	if err != nil {
		t.Fatal(err)
	}
	// The data folder is new too, as on a hub's first start.
	q, _, err := queue.OpenWith(filepath.Join(root, "data", "queue"), queue.Options{FS: rec, Sync: mode})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	mailbox := &delivery.Maildir{Root: filepath.Join(root, "data", "mailboxes"), Hostname: "hub1.contoso.test", FS: rec}
	drop := &delivery.Drop{Dir: filepath.Join(root, "fax-out"), DefaultDomain: "contoso.test", FS: rec}

	add := func(body string, rcpts ...string) *queue.Message {
		env := queue.Envelope{From: "carol@fabrikam.test"}
		for _, r := range rcpts {
			typ, addr, _ := strings.Cut(r, ":")
			env.Recipients = append(env.Recipients, queue.Recipient{Written: addr, Type: typ, Address: addr})
		}
		m, err := q.Add(env, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		rec.Note("acked " + m.ID + " " + strconv.Itoa(len(rcpts)) + " " + body)
		return m
	}
	deliver := func(agent delivery.Agent, m *queue.Message) {
		msg := &delivery.Message{ID: m.ID, From: m.From, Arrival: m.Arrival, Size: m.Size,
			Open: func() (io.ReadCloser, error) { return q.OpenMessage(m) }}
		for _, r := range m.Recipients {
			msg.Recipients = append(msg.Recipients, delivery.Recipient{Type: r.Type, Address: r.Address,
				Mailbox: r.Address, Folder: delivery.Folder(r.Address)})
		}
		for i, res := range agent.Deliver(context.Background(), msg) {
			if res.Class != delivery.Delivered && res.Class != delivery.Relayed { // the mailbox, or the drop folder
				t.Fatalf("%s to %s: %+v", m.ID, m.Recipients[i].Address, res)
			}
			rec.Note("delivered " + m.ID + " " + m.Recipients[i].Type + ":" + m.Recipients[i].Address)
		}
		rec.Note("finishing " + m.ID)
		removed, err := q.Finish(m.ID, func(m *queue.Message) error {
			for i := range m.Recipients {
				m.Recipients[i].State = queue.Delivered
			}
			return nil
		}, func(*queue.Message) error { return nil })
		if err != nil || !removed {
			t.Fatalf("finishing %s: %v, %v", m.ID, removed, err)
		}
	}

	m1 := add("Subject: one\r\n\r\nfirst\r\n", "SMTP:alice@contoso.test")
	m2 := add("Subject: two\r\n\r\nsecond\r\n", "SMTP:alice@contoso.test", "SMTP:bob@contoso.test")
	m3 := add("Subject: fax\r\n\r\npage 1\r\n", "FAX:+1 555 0100")
	if err := q.Update(m2.ID, func(m *queue.Message) error { m.Recipients[0].Attempts = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	rec.Note("attempted " + m2.ID)
	deliver(mailbox, m1)
	deliver(mailbox, m2)
	deliver(drop, m3)
	add("Subject: four\r\n\r\nstill queued\r\n", "SMTP:bob@contoso.test")

	n := rec.Replay(t, checkHub)
	t.Logf("%d operations, %d crash states", len(rec.Ops()), n)
}

// checkHub checks one crash state of TestHubPowerCut.
func checkHub(c *powercut.Crash) error {
	q, err := recoveredQueue(c)
	if err != nil {
		return err
	}
	defer q.Close()
	bodies := map[string]string{}  // queue ID -> content
	rcpts := map[string]int{}      // queue ID -> recipients
	delivered := map[string]int{}  // queue ID -> recipients reported delivered
	attempted := map[string]bool{} // queue ID -> an Update recorded an attempt
	finishing := map[string]bool{} // queue ID -> Finish was called
	for _, n := range c.Notes {
		f := strings.SplitN(n, " ", 4)
		switch f[0] {
		case "acked":
			bodies[f[1]] = f[3]
			rcpts[f[1]], _ = strconv.Atoi(f[2])
		case "attempted":
			attempted[f[1]] = true
		case "finishing":
			finishing[f[1]] = true
		case "delivered":
			delivered[f[1]]++
			if err := findDelivery(c.Dir, f[1], f[2], bodies[f[1]]); err != nil {
				return err
			}
		}
	}
	for id, body := range bodies {
		content, err := q.Open(id)
		if err != nil {
			if delivered[id] == rcpts[id] {
				continue // delivered and removed
			}
			return fmt.Errorf("acknowledged message %s lost: %v", id, err)
		}
		got, err := io.ReadAll(content)
		content.Close()
		if err != nil || string(got) != body {
			return fmt.Errorf("acknowledged message %s holds %q, %v; want %q", id, got, err, body)
		}
		m, err := q.Get(id)
		if err != nil {
			return fmt.Errorf("message %s: %v", id, err)
		}
		// Once Finish removes the message, without a folder fsync, a
		// power cut may bring it back with the record it was added with
		// (its meta/ record's removal kept, its queue file's lost): a
		// duplicate delivery, never a loss (queue doc.go, "Removal").
		if attempted[id] && !finishing[id] && m.Recipients[0].Attempts != 1 {
			return fmt.Errorf("message %s: the attempt its Update recorded is lost (attempts %d)", id, m.Recipients[0].Attempts)
		}
	}
	return checkMailboxes(c.Dir)
}

// findDelivery checks that message id reached rcpt ("TYPE:address"),
// with content body.
func findDelivery(dir, id, rcpt, body string) error {
	typ, addr, _ := strings.Cut(rcpt, ":")
	if typ == "FAX" {
		p := filepath.Join(dir, "fax-out", id+".eml")
		if b, err := os.ReadFile(p); err != nil || !strings.HasSuffix(string(b), "\r\n"+body) {
			return fmt.Errorf("delivery of %s to %s lost: %q, %v", id, rcpt, b, err)
		}
		return nil
	}
	want := "Return-Path: <carol@fabrikam.test>\r\nDelivered-To: " + addr + "\r\n" + body
	for _, sub := range []string{"new", "cur"} {
		files, _ := filepath.Glob(filepath.Join(dir, "data", "mailboxes", delivery.Folder(addr), "Maildir", sub, "*"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && string(b) == want {
				return nil
			}
		}
	}
	return fmt.Errorf("delivery of %s to %s lost", id, rcpt)
}

// checkMailboxes checks that every message in a new/ folder is whole (its
// size is in its name) and there once.
func checkMailboxes(dir string) error {
	files, _ := filepath.Glob(filepath.Join(dir, "data", "mailboxes", "*", "Maildir", "new", "*"))
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if _, size, _ := strings.Cut(filepath.Base(f), ",S="); strconv.Itoa(len(b)) != size {
			return fmt.Errorf("%s holds %d bytes, a partial message", f, len(b))
		}
		key := filepath.Dir(f) + "\x00" + string(b)
		if seen[key] {
			return fmt.Errorf("two copies in %s of %q", filepath.Dir(f), b)
		}
		seen[key] = true
	}
	return nil
}

// TestQueueConcurrentAddPowerCut replays every power cut of Adds that run
// at once, whose folder fsyncs the queue may share: each Add that
// returned must survive every one of them.
func TestQueueConcurrentAddPowerCut(t *testing.T) { eachSync(t, testQueueConcurrentAddPowerCut) }

func testQueueConcurrentAddPowerCut(t *testing.T, mode queue.Sync) {
	rec, q := recordedQueue(t, mode)
	rec.SyncTime = time.Millisecond // so that the Adds overlap
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := "Subject: " + strconv.Itoa(i) + "\r\n\r\nat once\r\n"
			m, err := q.Add(queue.Envelope{From: "carol@fabrikam.test", Recipients: []queue.Recipient{
				{Written: "alice@contoso.test", Type: "SMTP", Address: "alice@contoso.test"}}}, strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			rec.Note("acked " + m.ID + " 1 " + body)
		}()
	}
	wg.Wait()
	n := rec.Replay(t, checkHub)
	t.Logf("%d operations, %d crash states", len(rec.Ops()), n)
}

// TestQueueReusePowerCut replays every power cut of a queue that reuses
// removed queue files (queue doc.go, "Reuse"): a message is finished and
// its file kept, the next Add creates a new file (its folder fsync makes
// the removal durable), the Adds after it write over the kept files, one
// longer and one shorter than what the file held. In every state each
// message in the queue must hold its own content, never another's: a
// finished message that comes back (a duplicate, allowed) with the
// content of the message its file was reused for would deliver that
// message to the wrong recipients.
func TestQueueReusePowerCut(t *testing.T) { eachSync(t, testQueueReusePowerCut) }

func testQueueReusePowerCut(t *testing.T, mode queue.Sync) {
	rec, q := recordedQueue(t, mode)
	add := func(body string) *queue.Message {
		m, err := q.Add(queue.Envelope{From: "carol@fabrikam.test", Recipients: []queue.Recipient{
			{Written: "alice@contoso.test", Type: "SMTP", Address: "alice@contoso.test"}}}, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		rec.Note("acked " + m.ID + " 1 " + body)
		return m
	}
	finish := func(m *queue.Message) {
		rec.Note("delivered " + m.ID)
		removed, err := q.Finish(m.ID, func(m *queue.Message) error {
			m.Recipients[0].State = queue.Relayed
			return nil
		}, func(*queue.Message) error { return nil })
		if err != nil || !removed {
			t.Fatalf("finishing %s: %v, %v", m.ID, removed, err)
		}
	}
	a := add(reuseBodies[0])
	b := add(reuseBodies[1])
	finish(a)
	finish(b)
	for _, body := range reuseBodies[2:] {
		add(body)
	}
	ops := rec.Ops()
	reused := 0
	for _, op := range ops {
		if op.Kind == powercut.OpTruncate && op.Off > 0 {
			reused++
		}
	}
	if reused != 2 {
		t.Fatalf("%d queue files written over, want 2 (d and e):\n%v", reused, ops)
	}
	n := rec.Replay(t, checkReuse)
	t.Logf("%d operations, %d crash states", len(ops), n)
}

// reuseBodies are the messages of TestQueueReusePowerCut, in the order
// they are added.
var reuseBodies = []string{
	"Subject: a\r\n\r\nthe first, removed then reused\r\n",
	"Subject: b\r\n\r\nthe second, a long one: " + strings.Repeat("b", 300) + "\r\n",
	"Subject: c\r\n\r\nnew file: the removals are not durable yet\r\n",
	"Subject: d\r\n\r\nreuses a's file, longer than a: " + strings.Repeat("d", 100) + "\r\n",
	"Subject: e\r\n\r\nreuses b's, shorter\r\n",
}

// checkReuse checks one crash state of TestQueueReusePowerCut: recovery
// quarantines nothing, every acknowledged message not delivered is
// there, and every message there holds its own content.
func checkReuse(c *powercut.Crash) error {
	q, err := recoveredQueue(c)
	if err != nil {
		return err
	}
	defer q.Close()
	bodies := map[string]string{}
	delivered := map[string]bool{}
	for _, n := range c.Notes {
		f := strings.SplitN(n, " ", 4)
		switch f[0] {
		case "acked":
			bodies[f[1]] = f[3]
		case "delivered":
			delivered[f[1]] = true
		}
	}
	ms, err := q.List()
	if err != nil {
		return err
	}
	there := map[string]bool{}
	for _, m := range ms {
		there[m.ID] = true
		content, err := q.OpenMessage(m)
		if err != nil {
			return fmt.Errorf("message %s: %v", m.ID, err)
		}
		got, err := io.ReadAll(content)
		content.Close()
		want, known := bodies[m.ID]
		if !known {
			// Added, not yet acknowledged when the power went: it must
			// hold the content of the last Add, the only one that may
			// be on its way (Adds are one after the other here).
			if err != nil || string(got) != reuseBodies[len(bodies)] {
				return fmt.Errorf("unacknowledged message %s holds %q, %v; want %q", m.ID, got, err, reuseBodies[len(bodies)])
			}
			continue
		}
		if err != nil || string(got) != want {
			return fmt.Errorf("message %s holds %q, %v; want its own content %q", m.ID, got, err, want)
		}
	}
	for id := range bodies {
		if !there[id] && !delivered[id] {
			return fmt.Errorf("acknowledged message %s lost", id)
		}
	}
	return nil
}

// TestQueueAppendPowerCut replays every power cut of a message whose record
// changes again and again (queue append.go): the first changes are
// appended to its queue file, the later ones, once the file's records take
// their room, go to meta/ID.json. In every state the message is there with
// its content, and its record is the last one an Update returned with, or
// the one being written when the power went, never an older one nor a mix.
func TestQueueAppendPowerCut(t *testing.T) { eachSync(t, testQueueAppendPowerCut) }

func testQueueAppendPowerCut(t *testing.T, mode queue.Sync) {
	rec, q := recordedQueue(t, mode)
	m, err := q.Add(queue.Envelope{From: "carol@fabrikam.test", Recipients: []queue.Recipient{
		{Written: "alice@contoso.test", Type: "SMTP", Address: "alice@contoso.test"}}}, strings.NewReader(appendBody))
	if err != nil {
		t.Fatal(err)
	}
	rec.Note("acked " + m.ID + " 0")
	for k := 1; k <= appendUpdates; k++ {
		if err := q.Update(m.ID, func(m *queue.Message) error {
			m.Recipients[0].Attempts = k
			m.Recipients[0].Last = queue.Result{Class: queue.ClassRetry, Status: "4.4.1", RemoteText: strings.Repeat("busy ", 40)}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		rec.Note("acked " + m.ID + " " + strconv.Itoa(k))
	}
	ops := rec.Ops()
	appends, metas := 0, 0
	for _, op := range ops {
		switch {
		case op.Kind == powercut.OpWrite && strings.HasSuffix(op.Path, m.ID) && op.Off > 0:
			appends++
		case op.Kind == powercut.OpRename && strings.HasSuffix(op.To, m.ID+".json"):
			metas++
		}
	}
	if appends == 0 || metas == 0 {
		t.Fatalf("%d records appended and %d written to meta/, want some of each:\n%v", appends, metas, ops)
	}
	n := rec.Replay(t, func(c *powercut.Crash) error {
		q, err := recoveredQueue(c)
		if err != nil {
			return err
		}
		defer q.Close()
		acked := -1
		for _, n := range c.Notes {
			if f := strings.Fields(n); len(f) == 3 && f[0] == "acked" {
				acked, _ = strconv.Atoi(f[2])
			}
		}
		got, err := q.Get(m.ID)
		switch {
		case acked < 0:
			return nil // not acknowledged: may be there or not
		case err != nil:
			return fmt.Errorf("acknowledged message: %v", err)
		case got.Recipients[0].Attempts != acked && got.Recipients[0].Attempts != acked+1:
			return fmt.Errorf("record with %d attempts, want %d (the last Update that returned) or %d", got.Recipients[0].Attempts, acked, acked+1)
		}
		content, err := q.OpenMessage(got)
		if err != nil {
			return err
		}
		defer content.Close()
		if b, err := io.ReadAll(content); err != nil || string(b) != appendBody {
			return fmt.Errorf("content %q, %v; want %q", b, err, appendBody)
		}
		return nil
	})
	t.Logf("%d operations (%d appends, %d records in meta/), %d crash states", len(ops), appends, metas, n)
}

const (
	appendBody    = "Subject: deferred\r\n\r\nretried and retried\r\n"
	appendUpdates = 12 // enough for the queue file's records to fill and meta/ to take over
)

// eachSync runs a power-cut test with each way the queue makes a new
// file durable: fdatasync and a folder fsync, and syncfs of the file
// system (queue.Sync).
func eachSync(t *testing.T, test func(*testing.T, queue.Sync)) {
	for _, mode := range []queue.Sync{queue.SyncFile, queue.SyncFileSystem} {
		t.Run("sync="+mode.String(), func(t *testing.T) { test(t, mode) })
	}
}

// recordedQueue opens a queue in data/queue of a new recorded folder, for
// the power-cut tests of the queue alone.
func recordedQueue(t *testing.T, mode queue.Sync) (*powercut.Recorder, *queue.Store) {
	t.Helper()
	rec, err := powercut.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := queue.OpenWith(filepath.Join(rec.Root(), "data", "queue"), queue.Options{FS: rec, Sync: mode})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return rec, q
}

// recoveredQueue opens the queue of a crash state: its recovery must
// neither fail nor quarantine anything.
func recoveredQueue(c *powercut.Crash) (*queue.Store, error) {
	q, r, err := queue.Open(filepath.Join(c.Dir, "data", "queue"))
	if err != nil {
		return nil, fmt.Errorf("recovery failed: %v", err)
	}
	if len(r.Quarantined) > 0 {
		q.Close()
		return nil, fmt.Errorf("recovery quarantined %+v", r.Quarantined)
	}
	return q, nil
}
