package hub

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/tracking"
)

// showMessage answers queue.show: the message, every recipient, and its
// events from the tracking log.
func (h *Hub) showMessage(id string) (*control.MessageDetail, error) {
	cm, err := h.sched.Describe(id)
	if err != nil {
		return nil, err
	}
	d := &control.MessageDetail{Message: *cm, History: []tracking.Event{}}
	f, err := os.Open(filepath.Join(h.server.DataDir, "tracking.log"))
	if err != nil {
		return d, nil // no log yet: no history
	}
	defer f.Close()
	err = tracking.Search(f, tracking.Filter{ID: cm.ID}, func(e tracking.Event) {
		if e.ID == cm.ID {
			d.History = append(d.History, e)
		}
	}, nil)
	return d, err
}

// dumpMessage answers queue.dump: the content file, raw.
func (h *Hub) dumpMessage(id string) (*control.Reply, error) {
	f, err := h.sched.OpenContent(id)
	if errors.Is(err, queue.ErrNotFound) {
		return nil, control.Errorf(control.CodeNotFound, "%s is not in the queue", id)
	}
	if err != nil {
		return nil, err
	}
	return &control.Reply{Result: control.DumpInfo{ID: id, Size: f.Size()}, Data: f, Size: f.Size()}, nil
}

// Queue administration is the scheduler's (internal/scheduler, admin.go);
// these answer the control socket with it.

func (h *Hub) listQueue(sel control.Select) (*control.QueueList, error) { return h.sched.List(sel) }
func (h *Hub) retry(sel control.Select, actor string) (*control.Action, error) {
	return h.sched.Retry(sel, actor)
}
func (h *Hub) hold(sel control.Select, actor string) (*control.Action, error) {
	return h.sched.Hold(sel, actor)
}
func (h *Hub) release(sel control.Select, actor string) (*control.Action, error) {
	return h.sched.Release(sel, actor)
}
func (h *Hub) reroute(sel control.Select, actor string) (*control.Action, error) {
	return h.sched.Reroute(sel, actor)
}
func (h *Hub) remove(ctx context.Context, sel control.Select, actor string) (*control.Action, error) {
	return h.sched.Remove(ctx, sel, actor)
}
