package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/reload"
	"github.com/waypost/waypost/internal/scheduler"
)

// openControl makes the data folder owner-only and opens the control
// socket in it (interfaces.md section 6). The queue must be open (its
// lock held) first: that is what makes a socket found there stale.
func (h *Hub) openControl() error {
	dir := h.server.DataDir
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data_dir of %s: %w", h.server.Name, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data_dir of %s is open to other users (%v) and cannot be made owner-only: %w", h.server.Name, fi.Mode().Perm(), err)
		}
		h.log.Warn("data_dir was open to other users; made it owner-only (0700)", "dir", dir, "was", fi.Mode().Perm().String())
	}
	ctl, err := control.Listen(control.SocketPath(dir), h.log)
	if err != nil {
		return err
	}
	h.ctl = ctl
	return nil
}

// serveControl answers the control socket until it is closed.
func (h *Hub) serveControl() {
	if err := h.ctl.Serve(h.handleControl); err != nil {
		h.log.Error("control socket stopped", "err", err)
	}
}

// handleControl serves one request of `waypost queue` or `waypost reload`.
func (h *Hub) handleControl(ctx context.Context, p control.Peer, op string, raw json.RawMessage) (*control.Reply, error) {
	var sel control.Select
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &sel); err != nil {
			return nil, control.Errorf(control.CodeBadRequest, "arguments of %s: %v", op, err)
		}
	}
	actor := p.String()
	h.log.Debug("control request", "op", op, "peer", actor, "pid", p.PID)
	one := func() (string, error) {
		if len(sel.IDs) != 1 {
			return "", control.Errorf(control.CodeBadRequest, "%s takes one queue ID", op)
		}
		return sel.IDs[0], nil
	}
	reply := func(v any, err error) (*control.Reply, error) {
		if err != nil {
			return nil, err
		}
		return &control.Reply{Result: v}, nil
	}
	switch op {
	case control.OpStatus:
		return reply(h.status(), nil)
	case control.OpQueueList:
		return reply(h.listQueue(sel))
	case control.OpQueueShow:
		id, err := one()
		if err != nil {
			return nil, err
		}
		return reply(h.showMessage(id))
	case control.OpQueueDump:
		id, err := one()
		if err != nil {
			return nil, err
		}
		return h.dumpMessage(id)
	case control.OpQueueRetry:
		return reply(h.retry(sel, actor))
	case control.OpQueueReroute:
		return reply(h.reroute(sel, actor))
	case control.OpQueueHold, control.OpQueueRelease:
		if err := scheduler.NeedSelection(op, sel); err != nil {
			return nil, err
		}
		if op == control.OpQueueHold {
			return reply(h.hold(sel, actor))
		}
		return reply(h.release(sel, actor))
	case control.OpQueueDiscard:
		if err := scheduler.NeedSelection(op, sel); err != nil {
			return nil, err
		}
		return reply(h.sched.Discard(sel, actor))
	case control.OpQueueRemove:
		return reply(h.remove(ctx, sel, actor))
	case control.OpReload:
		return reply(h.Reload(actor))
	}
	return nil, control.Errorf(control.CodeUnknownOp, "unknown operation %q (this hub speaks control protocol version %d)", op, control.Version)
}

func (h *Hub) status() *control.Status {
	st := h.reloader.Snapshot()
	eng := h.engine.Load()
	return &control.Status{Server: h.server.Name, PID: os.Getpid(), Started: h.started, File: reload.OrgFile(eng.Org()),
		ConfigLoaded: st.Loaded, ConfigDigest: st.Digest, AddressTypes: reload.AddrTypes(eng)}
}
