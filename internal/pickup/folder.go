// Package pickup takes messages in from pickup folders (exchange-semantics.md
// section 1.6: a foreign gateway hands its own reports and inbound messages
// back to the organization), the receive stage beside SMTP (internal/smtpd).
// A drop connector may name a pickup folder; every hub that is a source
// server of the connector watches it, at start and then every second, and
// takes each complete file into its queue, addressed by X-Sender and
// X-Receiver lines at the top or else by its header (Parse, file.go).
//
// A gateway writes a file under a temporary name (one that starts with "."
// or ends in ".tmp") and renames it when it is complete: other names are
// taken as they are. A hub claims a file by renaming it to
// ".pickup-<server>-<name>" (so two hubs sharing the folder never both
// take it), queues it, and removes it only once the queue has it on disk:
// a crash in between takes it again at the next start (a duplicate, never
// a loss). A file that cannot be taken (no sender or recipients, a bad
// address, too big, looping) is moved to badmail/ in the pickup folder
// with NAME.reason beside it, and logged.
package pickup

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/durable"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/scheduler"
	"github.com/waypost/waypost/internal/status"
	"github.com/waypost/waypost/internal/tracking"
)

// pickupInterval is how often pickup folders are scanned.
const pickupInterval = time.Second

// badmailDir is the folder, inside a pickup folder, for files that cannot
// be taken.
const badmailDir = "badmail"

// Queue takes a picked-up message: the scheduler's Add (the message is
// durable when it returns; received is called before it can be delivered).
type Queue interface {
	Add(env queue.Envelope, body io.Reader, received func(m *queue.Message)) (*queue.Message, error)
}

// Folders watches the pickup folders of one hub: those of the drop
// connectors with a pickup folder of which it is a source server.
type Folders struct {
	Server *config.Server                  // this hub
	Engine *atomic.Pointer[routing.Engine] // the organization in force: a reload replaces it
	Queue  Queue
	Track  *tracking.Log
	Log    *slog.Logger

	logged map[string]bool // folders and files whose error was logged: not again until it clears
	stuck  map[string]bool // claimed files queued but not removed: never taken again in this run
}

// Run scans the pickup folders at once and then every second until ctx is
// done. The connectors are read from the current organization at each
// scan.
func (f *Folders) Run(ctx context.Context) {
	t := time.NewTicker(pickupInterval)
	defer t.Stop()
	for {
		for _, sc := range f.connectors() {
			if ctx.Err() != nil {
				return
			}
			f.scan(sc)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Scan scans every pickup folder once.
func (f *Folders) Scan() {
	for _, sc := range f.connectors() {
		f.scan(sc)
	}
}

// connectors are the drop connectors with a pickup folder of which this
// hub is a source server.
func (f *Folders) connectors() []*config.SendConnector {
	var out []*config.SendConnector
	for _, sc := range f.Engine.Load().Org().SendConnectors {
		if sc.Delivery.Kind != config.DeliveryDrop || sc.Delivery.Pickup == "" {
			continue
		}
		if slices.ContainsFunc(sc.SourceServers, func(s string) bool { return strings.EqualFold(s, f.Server.Name) }) {
			out = append(out, sc)
		}
	}
	return out
}

// claimPrefix starts the name of a file this hub has claimed.
func (f *Folders) claimPrefix() string { return ".pickup-" + durable.SafeName(f.Server.Name) + "-" }

// scan takes every complete file of the pickup folder of sc, in name
// order, and the files this hub had claimed when it stopped.
func (f *Folders) scan(sc *config.SendConnector) {
	if f.logged == nil {
		f.logged, f.stuck = map[string]bool{}, map[string]bool{}
	}
	dir := sc.Delivery.Pickup
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		err = os.MkdirAll(dir, 0o750) // for the gateway to write into
	}
	if err != nil {
		if !f.logged[dir] {
			f.Log.Error("pickup folder cannot be read", "connector", sc.Name, "dir", dir, "err", err)
			f.logged[dir] = true
		}
		return
	}
	delete(f.logged, dir)
	prefix := f.claimPrefix()
	for _, e := range entries {
		name := e.Name()
		claimed := strings.HasPrefix(name, prefix)
		if !claimed && (strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp")) || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, name)
		if f.stuck[path] {
			continue
		}
		if claimed {
			name = strings.TrimPrefix(name, prefix) // left by a crash: take it now
		} else {
			claim := filepath.Join(dir, prefix+name)
			if err := os.Rename(path, claim); err != nil {
				if !errors.Is(err, os.ErrNotExist) && !f.logged[path] { // ErrNotExist: another hub took it first
					f.Log.Error("pickup file cannot be claimed; it is tried again", "connector", sc.Name, "file", path, "err", err)
					f.logged[path] = true
				}
				continue
			}
			path = claim
		}
		orig := filepath.Join(dir, name)
		switch queued, err := f.takeRecovered(sc, path, name); {
		case err == nil:
			delete(f.logged, orig)
		case queued:
			// It would be taken again and again: leave it, and say so.
			f.Log.Error("picked-up file cannot be removed; it is not taken again until the next start", "connector", sc.Name, "file", path, "err", err)
			f.stuck[path] = true
		default:
			if err := os.Rename(path, orig); err != nil { // give it back
				f.stuck[path] = true
			}
			if !f.logged[orig] {
				f.Log.Error("pickup file cannot be taken now; it is tried again", "connector", sc.Name, "file", orig, "err", err)
				f.logged[orig] = true
			}
		}
	}
}

// takeRecovered is take with a panic (a bug, met while reading a hostile
// file or further on) recovered where the pickup goroutine takes a file:
// logged with its stack, and the file moved to badmail with status 4.3.0,
// so that it is taken neither again at every scan nor at every start (a
// crash loop); the hub goes on with the other files and everything else.
func (f *Folders) takeRecovered(sc *config.SendConnector, path, name string) (queued bool, err error) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		f.Log.Error("panic while taking a pickup file (a bug): the file goes to badmail, the hub goes on",
			"connector", sc.Name, "file", path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		queued, err = false, f.badmail(sc, path, name, badPickup(status.SystemTransient,
			"report the panic and its stack in the hub's log; check with waypost track whether the message was queued before dropping the file again",
			"the hub failed while taking the file: %v", v))
	}()
	return f.take(sc, path, name)
}

// take queues the claimed file path (named name by the gateway) and
// removes it, or moves it to badmail. An error with queued false leaves the
// file where it is; with queued true the message is queued but the file
// could not be removed.
func (f *Folders) take(sc *config.SendConnector, path, name string) (queued bool, err error) {
	limit := sc.MaxMessageSize
	if limit <= 0 {
		limit = config.DefaultMaxMessageSize
	}
	data, err := readLimited(path, limit)
	if err != nil {
		return false, err
	}
	if int64(len(data)) > limit {
		return false, f.badmail(sc, path, name, badPickup(status.MessageTooBig, "send smaller messages, or raise the connector's max_message_size",
			"the file is over the size limit of %d bytes", limit))
	}
	p, err := Parse(data)
	if err != nil {
		var b *BadFile
		if errors.As(err, &b) {
			return false, f.badmail(sc, path, name, b)
		}
		return false, err
	}
	eng := f.Engine.Load()
	if hops := eng.Org().MaxHopCount; hops > 0 && p.Hops > hops {
		return false, f.badmail(sc, path, name, badPickup(status.Loop, "look for a loop: a gateway returning the organization's own messages",
			"the message has %d Received fields (max_hop_count is %d): a mail loop", p.Hops, hops))
	}
	now := time.Now()
	received := fmt.Sprintf("Received: from pickup folder of connector %s\r\n\tby %s (Waypost) with local; %s\r\n",
		sc.Name, f.Server.FQDN, now.Format(time.RFC1123Z))
	size := int64(len(received) + len(p.Content))
	env := queue.Envelope{From: p.From, Arrival: now.UTC().Round(0), ReceivedBy: "pickup:" + sc.Name}
	for _, rcpt := range p.Recipients {
		d := eng.Route(f.Server.Name, rcpt, size, false)
		if d.Type == "" || d.Status == status.BadMailboxSyntax || d.Status == status.BadAddress {
			return false, f.badmail(sc, path, name, badPickup(cmp.Or(d.Status, status.BadMailboxSyntax), "correct the recipient",
				"recipient <%s>: %s", rcpt, d.Reason))
		}
		// Like any other recipient: the scheduler routes it again, and a
		// refusal (an unknown mailbox, an unreachable type) becomes a
		// report to the sender.
		env.Recipients = append(env.Recipients, queue.Recipient{Written: rcpt, Type: d.Type, Address: d.Address})
	}
	// RECEIVE is written once the message is durable and before the
	// scheduler can deliver it.
	m, err := f.Queue.Add(env, io.MultiReader(strings.NewReader(received), bytes.NewReader(p.Content)), func(m *queue.Message) {
		for _, r := range env.Recipients {
			f.Track.Write(tracking.Event{Event: tracking.Receive, ID: m.ID, MessageID: p.MessageID, Sender: p.From,
				Recipient: scheduler.TrackedAs(&r), Connector: sc.Name, Detail: "via pickup " + sc.Name})
		}
	})
	if err != nil {
		return false, fmt.Errorf("queueing: %w", err)
	}
	f.Log.Info("picked up", "id", m.ID, "connector", sc.Name, "file", name, "from", p.From, "to", p.Recipients, "size", m.Size)
	// Queued: only now may the file go.
	if err := os.Remove(path); err != nil {
		return true, fmt.Errorf("queued as %s, but: %w", m.ID, err)
	}
	if err := durable.SyncDir(filepath.Dir(path)); err != nil {
		f.Log.Warn("pickup folder sync", "dir", filepath.Dir(path), "err", err)
	}
	return true, nil
}

// badmail moves the claimed file path to the badmail folder under its own
// name (with a suffix if that is taken) and writes NAME.reason beside it,
// first, so that a crash in between leaves the file to be judged again.
func (f *Folders) badmail(sc *config.SendConnector, path, name string, why *BadFile) error {
	dir := filepath.Join(filepath.Dir(path), badmailDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("badmail folder: %w", err)
	}
	target := filepath.Join(dir, name)
	for i := 1; ; i++ {
		if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
			break
		}
		target = filepath.Join(dir, fmt.Sprintf("%s.%d", name, i))
	}
	text := fmt.Sprintf("file: %s\nconnector: %s\nserver: %s\ntime: %s\nstatus: %s\nreason: %s\nfix: %s\n",
		logLine(name), sc.Name, f.Server.Name, time.Now().Format(time.RFC3339), why.Status, why.Reason, why.Fix)
	if err := durable.WriteFile(target+".reason", []byte(text), 0o640); err != nil {
		return fmt.Errorf("badmail reason: %w", err)
	}
	if err := os.Rename(path, target); err != nil {
		os.Remove(target + ".reason")
		return fmt.Errorf("moving to badmail: %w", err)
	}
	if err := durable.SyncDir(dir); err != nil {
		f.Log.Warn("badmail folder sync", "dir", dir, "err", err)
	}
	durable.SyncDir(filepath.Dir(path))
	f.Log.Warn("pickup file moved to badmail", "connector", sc.Name, "file", target, "status", why.Status, "reason", why.Reason, "fix", why.Fix)
	return nil
}

// readLimited reads up to limit+1 bytes of path: enough to know it is too
// big.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}
