package smtpd

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/queue"
)

// fakeDisk is a statfs and a clock the test moves.
type fakeDisk struct {
	mu    sync.Mutex
	free  uint64
	calls int
	now   time.Time
}

func (d *fakeDisk) statfs(string) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	return d.free, nil
}

func (d *fakeDisk) clock() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.now
}

func (d *fakeDisk) set(free uint64, advance time.Duration) (calls int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.free = free
	d.now = d.now.Add(advance)
	return d.calls
}

// A queue that fails with ENOSPC (through queue.ErrStorage, as the real one
// does) gets that DATA 452 4.3.1; MAIL is then refused with 452 4.3.1, with
// the free space read at most once a second, until the file system has room
// again, and then mail is accepted by itself. The warning is logged once
// per 10 s with a count.
func TestQueueDiskFull(t *testing.T) {
	t.Parallel()
	disk := &fakeDisk{free: 1 << 30, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxMessageSize = 10_000 }, func(l *Listener) {
		l.SetQueueDir(t.TempDir())
		l.statfs = disk.statfs
		l.now = disk.clock
	})
	enospc := fmt.Errorf("%w: write /q/tmp/x: %w", queue.ErrStorage, syscall.ENOSPC)
	h.q.setFail(enospc)
	c := h.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: x\r\n\r\nx\r\n.\r\n")
	c.expect("452 4.3.1 ")

	before := disk.set(1<<30, 0)
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "452 4.3.1 ") // refused at once, though statfs would say there is room
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "452 4.3.1 ")
	if n := disk.set(0, 1500*time.Millisecond); n != before {
		t.Errorf("statfs read %d times within a second of the failure, want 0", n-before)
	}
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "452 4.3.1 ") // rechecked: still full
	before = disk.set(1<<30, 0)
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "452 4.3.1 ") // not rechecked yet
	if n := disk.set(1<<30, 1500*time.Millisecond); n != before {
		t.Errorf("statfs read %d times within a second of the last check, want 0", n-before)
	}
	h.q.setFail(nil)
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ") // room again: accepted by itself
	c.cmd("RCPT TO:<alice@contoso.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: y\r\n\r\ny\r\n.\r\n")
	c.expect("250 ")
	logs := h.logs.String()
	if n := strings.Count(logs, "queue file system full"); n != 1 {
		t.Errorf("full disk logged %d times within 10 s, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs, "has room again") {
		t.Errorf("the end of the full state is not logged:\n%s", logs)
	}

	// Full again 11 s later: logged again, with the refusals since.
	h.q.setFail(enospc)
	disk.set(1<<30, 11*time.Second)
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: z\r\n\r\nz\r\n.\r\n")
	c.expect("452 4.3.1 ")
	logs = h.logs.String()
	if n := strings.Count(logs, "queue file system full"); n != 2 || !strings.Contains(logs, "times=5") {
		t.Errorf("want a second warning counting 5 (the 4 refused MAIL and this DATA):\n%s", logs)
	}

	// Any other queue failure is still 451 4.3.0 and changes nothing at MAIL.
	other := start(t, "Default", nil)
	other.q.setFail(fmt.Errorf("%w: fsync: %w", queue.ErrStorage, syscall.EIO))
	c = other.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: x\r\n\r\nx\r\n.\r\n")
	c.expect("451 4.3.0 ")
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
}

func TestSpaceNeeded(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		max, min, size int64
		want           uint64
	}{
		{35_000_000, 0, 0, 52_500_000},
		{35_000_000, 0, 1000, 52_500_000},
		{0, 0, 0, 0}, // unlimited, no SIZE, no minimum: no check
		{0, 0, 1000, 1500},
		{1000, 1 << 30, 0, 1 << 30},
		{1000, 0, 0, 1500},
	} {
		rc := &config.ReceiveConnector{MaxMessageSize: tt.max, MinFreeSpace: tt.min}
		if got := spaceNeeded(rc, tt.size); got != tt.want {
			t.Errorf("spaceNeeded(max %d, min %d, SIZE %d) = %d, want %d", tt.max, tt.min, tt.size, got, tt.want)
		}
	}
}

// TestDiskFree runs the real statfs on a real folder.
func TestDiskFree(t *testing.T) {
	t.Parallel()
	free, err := diskFree(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if free == 0 {
		t.Fatal("no free space reported for the test's temporary folder")
	}
	if _, err := diskFree("/nonexistent/waypost/queue"); err == nil {
		t.Error("no error for a missing folder")
	}
}

// TestFreeSpace: MAIL is refused with 452 4.3.1 while the queue's
// file system has less free than 1.5 x max_message_size (or
// min_free_space), and accepted again once there is room; the free space
// is read at most once a second.
func TestFreeSpace(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	free := uint64(1000)
	var asked []string
	statfs := func(dir string) (uint64, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, dir)
		return free, nil
	}
	clock := &fakeDisk{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	setFree := func(n uint64, advance time.Duration) {
		mu.Lock()
		free = n
		mu.Unlock()
		clock.set(0, advance)
	}
	dir := t.TempDir()
	ev := &counts{}
	h := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxMessageSize = 10_000 }, func(l *Listener) {
		l.SetQueueDir(dir)
		l.statfs = statfs
		l.now = clock.clock
	}, ev.option)
	c := h.hello()
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "452 4.3.1 Insufficient system storage")
	setFree(14_999, time.Second)
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "452 4.3.1 ")
	setFree(15_000, 999*time.Millisecond)
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "452 4.3.1 ") // the reading of 999 ms ago
	setFree(15_000, time.Millisecond)
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
	c.cmd("RSET", "250 ")
	c.cmd("MAIL FROM:<bob@fabrikam.test> SIZE=10001", "552 5.3.4 ") // over the limit, before any space check
	mu.Lock()
	if len(asked) != 3 || asked[0] != dir {
		t.Errorf("statfs asked about %v, want %s three times", asked, dir)
	}
	mu.Unlock()
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ") // within the second: not read again
	c.cmd("RSET", "250 ")
	mu.Lock()
	if len(asked) != 3 {
		t.Errorf("statfs asked %d times, want 3: read again within a second", len(asked))
	}
	mu.Unlock()
	if got := ev.rejected("452 4.3.1"); got != 3 {
		t.Errorf("OnReject(452, 4.3.1) called %d times, want 3", got)
	}

	// The real statfs: a test folder has room for 1.5 x 10 kB, but not for
	// a minimum of 2^62 bytes.
	real := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MaxMessageSize = 10_000 }, func(l *Listener) { l.SetQueueDir(t.TempDir()) })
	c = real.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: room\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	full := start(t, "Default", func(rc *config.ReceiveConnector) { rc.MinFreeSpace = 1 << 62 }, func(l *Listener) { l.SetQueueDir(t.TempDir()) })
	c = full.hello()
	c.cmd("MAIL FROM:<bob@fabrikam.test>", "452 4.3.1 ")
	if logs := full.logs.String(); !strings.Contains(logs, "queue file system nearly full") {
		t.Errorf("not logged:\n%s", logs)
	}

	// A file system whose free space cannot be read is not refused (the
	// queue's own writes still fail safely), and that is logged once.
	broken := start(t, "Default", nil, func(l *Listener) {
		l.SetQueueDir(dir)
		l.statfs = func(string) (uint64, error) { return 0, errors.New("statfs: input/output error") }
	})
	c = broken.hello()
	for i := 0; i < 2; i++ {
		c.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
		c.cmd("RSET", "250 ")
	}
	if n := strings.Count(broken.logs.String(), "cannot read the queue's free space"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, broken.logs.String())
	}
}

// The listeners of one queue folder share the full state: after the queue
// said ENOSPC to one, the others refuse MAIL too.
func TestQueueDiskFullShared(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	disk := &fakeDisk{free: 1 << 30, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	opt := func(l *Listener) {
		l.SetQueueDir(dir)
		l.statfs = disk.statfs
		l.now = disk.clock
	}
	smtp := start(t, "Default", nil, opt)
	sub := start(t, "Default", nil, opt)
	sub.q.setFail(fmt.Errorf("%w: write: %w", queue.ErrStorage, syscall.ENOSPC))
	c := sub.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: x\r\n\r\nx\r\n.\r\n")
	c.expect("452 4.3.1 ")
	other := smtp.hello()
	other.cmd("MAIL FROM:<bob@fabrikam.test>", "452 4.3.1 ")
	disk.set(1<<30, 2*time.Second)
	other.cmd("MAIL FROM:<bob@fabrikam.test>", "250 ")
}
