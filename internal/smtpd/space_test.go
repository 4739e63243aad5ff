package smtpd

import (
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
