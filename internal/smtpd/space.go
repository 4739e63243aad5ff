package smtpd

import (
	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/config"
)

// replyNoSpace refuses MAIL while the queue's file system is nearly full
// (RFC 3463 4.3.1 mail system full): the client tries again later, and
// nothing is ever answered 250 that the queue could not keep.
var replyNoSpace = reply(452, 4, 3, 1, "Insufficient system storage, try again later")

// SetQueueDir names the queue folder. Before it accepts MAIL the listener
// checks the free space of that folder's file system: it refuses with
// 452 4.3.1 when less is free than spaceNeeded asks (Postfix's
// queue_minfree rule). Call it before Serve; without it there is no check.
func (l *Listener) SetQueueDir(dir string) { l.queueDir = dir }

// spaceNeeded is how many free bytes the queue's file system must have to
// accept a transaction: 1.5 times the larger of the connector's
// max_message_size and the client's SIZE, and at least min_free_space.
// 0 means no check (no limit, no SIZE, no minimum).
func spaceNeeded(rc *config.ReceiveConnector, size int64) uint64 {
	n := max(rc.MaxMessageSize, size)
	need := uint64(n) + uint64(n)/2
	return max(need, uint64(max(rc.MinFreeSpace, 0)))
}

// spaceRefusal is the reply refusing MAIL for lack of space, or nil. A file
// system whose free space cannot be read is not refused: the queue's own
// writes still fail safely (451 4.3.0) if it is really full.
func (l *Listener) spaceRefusal(size int64) *smtp.SMTPError {
	if l.queueDir == "" {
		return nil
	}
	need := spaceNeeded(l.rc, size)
	if need == 0 {
		return nil
	}
	free, err := l.statfs(l.queueDir)
	if err != nil {
		if !l.spaceWarned.Swap(true) {
			l.log.Warn("cannot read the queue's free space; mail is accepted without the check", "dir", l.queueDir, "err", err)
		}
		return nil
	}
	if free < need {
		l.log.Warn("queue file system nearly full: refusing mail", "dir", l.queueDir, "free", free, "need", need)
		return replyNoSpace
	}
	return nil
}
