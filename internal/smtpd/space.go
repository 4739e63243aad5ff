package smtpd

import (
	"errors"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/status"
)

// replyNoSpace refuses MAIL while the queue's file system is nearly full
// (RFC 3463 4.3.1 mail system full): the client tries again later, and
// nothing is ever answered 250 that the queue could not keep.
var replyNoSpace = reply(status.ReplyInsufficientStorage, status.SystemFull, "Insufficient system storage, try again later")

// Timings of the full-disk state.
const (
	// fullRecheck: while the queue's file system is full, its free space
	// is read at most this often; MAIL in between is refused at once.
	fullRecheck = time.Second
	// spaceLogEvery: the same storage warning is logged at most this often,
	// with the number of times it happened since.
	spaceLogEvery = 10 * time.Second
	// freeReadEvery: the free space checked at MAIL is read at most this
	// often by a listener; MAIL in between uses the last reading. A
	// statfs per MAIL was one system call per message at every rate,
	// and a second's worth of mail past the minimum is caught by the
	// queue's own ENOSPC (queueFull).
	freeReadEvery = time.Second
	// minRoomAfterFull: after the queue said ENOSPC, mail is accepted again
	// once this much is free, or what spaceNeeded asks if that is more.
	minRoomAfterFull = 1 << 20
)

// spaceState is what the listener knows of its queue's file system.
type spaceState struct {
	mu       sync.Mutex
	full     bool      // the queue failed with ENOSPC; MAIL is refused until there is room
	checked  time.Time // last statfs while full
	warnings map[string]*warning
}

// warning rate-limits one log message.
type warning struct {
	last  time.Time
	count int // times it happened and was not logged since last
}

// SetQueueDir names the queue folder. Before it accepts MAIL the listener
// checks the free space of that folder's file system: it refuses with
// 452 4.3.1 when less is free than spaceNeeded asks (Postfix's
// queue_minfree rule). The listeners of one queue folder share the
// full-disk state: once the queue says ENOSPC to one, all refuse MAIL
// until there is room. Call it before Serve; without it there is no
// check.
func (l *Listener) SetQueueDir(dir string) {
	l.queueDir = dir
	l.space = spaceOf(dir)
}

// spaces holds the space state of each queue folder.
var spaces = struct {
	sync.Mutex
	m map[string]*spaceState
}{m: map[string]*spaceState{}}

func spaceOf(dir string) *spaceState {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	spaces.Lock()
	defer spaces.Unlock()
	s := spaces.m[dir]
	if s == nil {
		s = &spaceState{}
		spaces.m[dir] = s
	}
	return s
}

// spaceNeeded is how many free bytes the queue's file system must have to
// accept a transaction: 1.5 times the larger of the connector's
// max_message_size and the client's SIZE, and at least min_free_space.
// 0 means no check (no limit, no SIZE, no minimum).
func spaceNeeded(rc *config.ReceiveConnector, size int64) uint64 {
	n := max(rc.MaxMessageSize, size)
	need := uint64(n) + uint64(n)/2
	return max(need, uint64(max(rc.MinFreeSpace, 0)))
}

// isNoSpace reports whether a queue error is a full file system (ENOSPC,
// or EDQUOT for a quota, through queue.ErrStorage).
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// queueFull is called when the queue failed to add a message for want of
// space: MAIL is refused (452 4.3.1) from now on until the file system has
// room again (spaceRefusal). It returns the reply to the DATA.
func (l *Listener) queueFull(err error) *smtp.SMTPError {
	now := l.now()
	l.space.mu.Lock()
	l.space.full = true
	l.space.checked = now
	l.space.mu.Unlock()
	l.warn(now, "queue file system full: refusing mail until it has room", "dir", l.queueDir, "err", err.Error())
	return replyNoSpace
}

// spaceRefusal is the reply refusing MAIL for lack of space, or nil. A file
// system whose free space cannot be read is not refused: the queue's own
// writes still fail safely (451 4.3.0, or 452 4.3.1 when full) if it is
// really full.
func (l *Listener) spaceRefusal(size int64) *smtp.SMTPError {
	need := spaceNeeded(l.rc, size)
	if l.stillFull(need) {
		return replyNoSpace
	}
	if l.queueDir == "" || need == 0 {
		return nil
	}
	free, err := l.freeSpace()
	if err != nil {
		if !l.spaceWarned.Swap(true) {
			l.log.Warn("cannot read the queue's free space; mail is accepted without the check", "dir", l.queueDir, "err", err)
		}
		return nil
	}
	if free < need {
		l.warn(l.now(), "queue file system nearly full: refusing mail", "dir", l.queueDir, "free", free, "need", need)
		return replyNoSpace
	}
	return nil
}

// freeCache is a listener's last reading of its queue's free space.
type freeCache struct {
	mu   sync.Mutex
	at   time.Time // when it was read; zero: never
	free uint64
	err  error
}

// freeSpace is the free space of the queue's file system, read at most
// once every freeReadEvery.
func (l *Listener) freeSpace() (uint64, error) {
	now := l.now()
	c := &l.freeCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || now.Sub(c.at) >= freeReadEvery || now.Before(c.at) {
		c.free, c.err = l.statfs(l.queueDir)
		c.at = now
	}
	return c.free, c.err
}

// stillFull reports whether the full-disk state holds: after a queue
// ENOSPC, until a statfs (at most one every fullRecheck) shows at least
// need and minRoomAfterFull free. Without a queue folder to ask, the state
// ends at the first recheck and the next write tells again.
func (l *Listener) stillFull(need uint64) bool {
	now := l.now()
	l.space.mu.Lock()
	defer l.space.mu.Unlock()
	if !l.space.full {
		return false
	}
	if now.Sub(l.space.checked) < fullRecheck {
		l.countWarningLocked(now, "queue file system full: refusing mail until it has room")
		return true
	}
	l.space.checked = now
	if l.queueDir != "" {
		free, err := l.statfs(l.queueDir)
		if err != nil || free < max(need, minRoomAfterFull) {
			l.countWarningLocked(now, "queue file system full: refusing mail until it has room")
			return true
		}
		l.log.Info("queue file system has room again: accepting mail", "dir", l.queueDir, "free", free)
	}
	l.space.full = false
	return false
}

// warn logs msg at most once every spaceLogEvery, with how many times it
// happened since it was last logged.
func (l *Listener) warn(now time.Time, msg string, args ...any) {
	l.space.mu.Lock()
	if l.space.warnings == nil {
		l.space.warnings = map[string]*warning{}
	}
	w := l.space.warnings[msg]
	if w == nil {
		w = &warning{}
		l.space.warnings[msg] = w
	}
	w.count++
	if !w.last.IsZero() && now.Sub(w.last) < spaceLogEvery {
		l.space.mu.Unlock()
		return
	}
	n := w.count
	w.last, w.count = now, 0
	l.space.mu.Unlock()
	l.log.Warn(msg, append(args, "times", n)...)
}

// countWarningLocked counts an occurrence of msg that is not logged now
// (space.mu is held): the next warning that is logged gives the count.
func (l *Listener) countWarningLocked(now time.Time, msg string) {
	if w := l.space.warnings[msg]; w != nil {
		w.count++
	}
}
