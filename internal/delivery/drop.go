package delivery

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/durable"
	"github.com/waypost/waypost/internal/status"
)

// Drop writes each message as one RFC 5322 file into a folder that a
// foreign gateway (a fax server, an X.400 gateway) collects from, as
// Exchange's foreign connectors do (exchange-semantics.md section 1.6). The
// envelope goes first, as X-Sender and X-Receiver header lines; non-SMTP
// recipients are written IMCEA-encapsulated at DefaultDomain, the form
// gateways read. The file is written under a temporary name, synced,
// renamed to ID.eml and the folder synced, so a gateway never sees half a
// message and a delivered file survives a crash, a power cut included (the
// folder, when Deliver creates it, is made durable by an fsync of the
// folder holding it, and that folder is synced once per process). An I/O
// error is a retry; a drop never fails permanently.
//
// The file's name is the queue ID, so a message delivered again after a
// crash replaces its own file, if the gateway has not collected it yet,
// and leaves no second copy.
type Drop struct {
	Dir           string
	DefaultDomain string
	FS            durable.FS // nil for the real file system
	ready         atomic.Bool
}

// Deliver implements Agent.
func (d *Drop) Deliver(ctx context.Context, m *Message) []Result {
	name, err := d.write(m)
	if err != nil {
		return every(len(m.Recipients), Result{Class: Retry, Status: status.SystemTransient, Text: fmt.Sprintf("drop folder %s: %v", d.Dir, err)})
	}
	return every(len(m.Recipients), Result{Class: Relayed, Status: status.OK, Text: "written to " + name})
}

// prepare creates the folder, and makes its name durable once per
// process (an earlier process may have died between its mkdir and the
// fsync): docs/architecture.md, "Power cuts".
func (d *Drop) prepare(fsys durable.FS) error {
	if d.ready.Load() {
		if _, err := os.Stat(d.Dir); err == nil {
			return nil
		}
	}
	if err := durable.MkdirAll(fsys, d.Dir, 0o750); err != nil {
		return err
	}
	if err := fsys.SyncDir(filepath.Dir(filepath.Clean(d.Dir))); err != nil {
		return err
	}
	d.ready.Store(true)
	return nil
}

func (d *Drop) write(m *Message) (string, error) {
	fsys := d.FS
	if fsys == nil {
		fsys = durable.OS
	}
	if err := d.prepare(fsys); err != nil {
		return "", err
	}
	var head strings.Builder
	fmt.Fprintf(&head, "X-Sender: <%s>\r\n", m.From)
	for _, r := range m.Recipients {
		to := r.Address
		if !strings.EqualFold(r.Type, "SMTP") {
			to = address.EncodeIMCEA(r.Type, r.Address, d.DefaultDomain)
		}
		fmt.Fprintf(&head, "X-Receiver: <%s>\r\n", to)
	}
	body, err := m.Open()
	if err != nil {
		return "", fmt.Errorf("reading the queued message: %w", err)
	}
	defer body.Close()
	f, err := durable.CreateTemp(fsys, d.Dir, ".tmp-"+durable.SafeName(m.ID)+"-")
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(f, head.String()); err != nil {
		durable.Abort(fsys, f)
		return "", err
	}
	if _, err := io.Copy(f, body); err != nil {
		durable.Abort(fsys, f)
		return "", err
	}
	name := filepath.Join(d.Dir, durable.SafeName(m.ID)+".eml")
	if err := durable.Commit(fsys, f, name); err != nil {
		return "", err
	}
	return name, nil
}
