package scheduler

import (
	"time"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/queue"
)

// Page is List with args.Messages, one page at a time, for the web
// console: the messages sel picks, in queue ID order, from offset, at
// most limit of them, and how many there are in all. Only the page's
// messages are described, so a page of a queue of ten thousand is quick.
func (s *Scheduler) Page(args control.Select, offset, limit int) (*control.QueueList, int, error) {
	now := time.Now()
	sel, err := compileSelect(args, now)
	if err != nil {
		return nil, 0, err
	}
	out := &control.QueueList{Server: s.Server, Now: now.UTC(), Messages: []control.Message{}}
	total := 0
	for _, m := range s.snapshot(sel) {
		keep := func(r *queue.Recipient) bool { return waiting(r) && sel.rcpt(m, r) }
		picked := false
		for i := range m.Recipients {
			if keep(&m.Recipients[i]) {
				picked = true
				break
			}
		}
		if !picked {
			continue
		}
		if total >= offset && len(out.Messages) < limit {
			out.Messages = append(out.Messages, messageInfo(m, now, keep))
		}
		total++
	}
	return out, total, nil
}
