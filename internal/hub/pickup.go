package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/durable"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/scheduler"
	"github.com/waypost/waypost/internal/tracking"
)

// Pickup folders (exchange-semantics.md section 1.6: a foreign gateway
// hands its own reports and inbound messages back to the organization).
// A drop connector may name a pickup folder; every hub that is a source
// server of the connector watches it, at start and then every second, and
// takes each complete file into its queue, addressed by X-Sender and
// X-Receiver lines at the top or else by its header (parsePickup).
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

// pickupInterval is how often pickup folders are scanned.
const pickupInterval = time.Second

// badmailDir is the folder, inside a pickup folder, for files that cannot
// be taken.
const badmailDir = "badmail"

// runPickups scans the pickup folders of this hub's drop connectors until
// ctx is done. The connectors are read from the current organization at
// each scan.
func (h *Hub) runPickups(ctx context.Context) {
	ps := &pickupState{logged: map[string]bool{}, stuck: map[string]bool{}}
	t := time.NewTicker(pickupInterval)
	defer t.Stop()
	for {
		for _, sc := range h.pickupConnectors() {
			if ctx.Err() != nil {
				return
			}
			h.scanPickup(sc, ps)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pickupState is what the scans of one run remember.
type pickupState struct {
	logged map[string]bool // folders and files whose error was logged: not again until it clears
	stuck  map[string]bool // claimed files queued but not removed: never taken again in this run
}

// pickupConnectors are the drop connectors with a pickup folder of which
// this hub is a source server.
func (h *Hub) pickupConnectors() []*config.SendConnector {
	var out []*config.SendConnector
	for _, sc := range h.engine.Load().Org().SendConnectors {
		if sc.Delivery.Kind != config.DeliveryDrop || sc.Delivery.Pickup == "" {
			continue
		}
		if slices.ContainsFunc(sc.SourceServers, func(s string) bool { return strings.EqualFold(s, h.server.Name) }) {
			out = append(out, sc)
		}
	}
	return out
}

// claimPrefix starts the name of a file this hub has claimed.
func (h *Hub) claimPrefix() string { return ".pickup-" + safeFileName(h.server.Name) + "-" }

// scanPickup takes every complete file of the pickup folder of sc, in
// name order, and the files this hub had claimed when it stopped.
func (h *Hub) scanPickup(sc *config.SendConnector, ps *pickupState) {
	dir := sc.Delivery.Pickup
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		err = os.MkdirAll(dir, 0o750) // for the gateway to write into
	}
	if err != nil {
		if !ps.logged[dir] {
			h.log.Error("pickup folder cannot be read", "connector", sc.Name, "dir", dir, "err", err)
			ps.logged[dir] = true
		}
		return
	}
	delete(ps.logged, dir)
	prefix := h.claimPrefix()
	for _, e := range entries {
		name := e.Name()
		claimed := strings.HasPrefix(name, prefix)
		if !claimed && (strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp")) || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, name)
		if ps.stuck[path] {
			continue
		}
		if claimed {
			name = strings.TrimPrefix(name, prefix) // left by a crash: take it now
		} else {
			claim := filepath.Join(dir, prefix+name)
			if err := os.Rename(path, claim); err != nil {
				if !errors.Is(err, os.ErrNotExist) && !ps.logged[path] { // ErrNotExist: another hub took it first
					h.log.Error("pickup file cannot be claimed; it is tried again", "connector", sc.Name, "file", path, "err", err)
					ps.logged[path] = true
				}
				continue
			}
			path = claim
		}
		orig := filepath.Join(dir, name)
		switch queued, err := h.takePickup(sc, path, name); {
		case err == nil:
			delete(ps.logged, orig)
		case queued:
			// It would be taken again and again: leave it, and say so.
			h.log.Error("picked-up file cannot be removed; it is not taken again until the next start", "connector", sc.Name, "file", path, "err", err)
			ps.stuck[path] = true
		default:
			if err := os.Rename(path, orig); err != nil { // give it back
				ps.stuck[path] = true
			}
			if !ps.logged[orig] {
				h.log.Error("pickup file cannot be taken now; it is tried again", "connector", sc.Name, "file", orig, "err", err)
				ps.logged[orig] = true
			}
		}
	}
}

// takePickup queues the claimed file path (named name by the gateway) and
// removes it, or moves it to badmail. An error with queued false leaves the
// file where it is; with queued true the message is queued but the file
// could not be removed.
func (h *Hub) takePickup(sc *config.SendConnector, path, name string) (queued bool, err error) {
	limit := sc.MaxMessageSize
	if limit <= 0 {
		limit = config.DefaultMaxMessageSize
	}
	data, err := readLimited(path, limit)
	if err != nil {
		return false, err
	}
	if int64(len(data)) > limit {
		return false, h.badmail(sc, path, name, badPickup("5.3.4", "send smaller messages, or raise the connector's max_message_size",
			"the file is over the size limit of %d bytes", limit))
	}
	p, err := parsePickup(data)
	if err != nil {
		var b *badFile
		if errors.As(err, &b) {
			return false, h.badmail(sc, path, name, b)
		}
		return false, err
	}
	eng := h.engine.Load()
	if hops := eng.Org().MaxHopCount; hops > 0 && p.Hops > hops {
		return false, h.badmail(sc, path, name, badPickup("5.4.6", "look for a loop: a gateway returning the organization's own messages",
			"the message has %d Received fields (max_hop_count is %d): a mail loop", p.Hops, hops))
	}
	now := time.Now()
	received := fmt.Sprintf("Received: from pickup folder of connector %s\r\n\tby %s (Waypost) with local; %s\r\n",
		sc.Name, h.server.FQDN, now.Format(time.RFC1123Z))
	size := int64(len(received) + len(p.Content))
	env := queue.Envelope{From: p.From, Arrival: now.UTC().Round(0), ReceivedBy: "pickup:" + sc.Name}
	for _, rcpt := range p.Recipients {
		d := eng.Route(h.server.Name, rcpt, size, false)
		if d.Type == "" || d.Status == "5.1.3" || d.Status == "5.1.0" {
			return false, h.badmail(sc, path, name, badPickup(orStatus(d.Status, "5.1.3"), "correct the recipient",
				"recipient <%s>: %s", rcpt, d.Reason))
		}
		// Like any other recipient: the scheduler routes it again, and a
		// refusal (an unknown mailbox, an unreachable type) becomes a
		// report to the sender.
		env.Recipients = append(env.Recipients, queue.Recipient{Written: rcpt, Type: d.Type, Address: d.Address})
	}
	// RECEIVE is written once the message is durable and before the
	// scheduler can deliver it.
	m, err := h.sched.Add(env, io.MultiReader(strings.NewReader(received), bytes.NewReader(p.Content)), func(m *queue.Message) {
		for _, r := range env.Recipients {
			h.track.Write(tracking.Event{Event: tracking.Receive, ID: m.ID, MessageID: p.MessageID, Sender: p.From,
				Recipient: scheduler.TrackedAs(&r), Connector: sc.Name, Detail: "via pickup " + sc.Name})
		}
	})
	if err != nil {
		return false, fmt.Errorf("queueing: %w", err)
	}
	h.log.Info("picked up", "id", m.ID, "connector", sc.Name, "file", name, "from", p.From, "to", p.Recipients, "size", m.Size)
	// Queued: only now may the file go.
	if err := os.Remove(path); err != nil {
		return true, fmt.Errorf("queued as %s, but: %w", m.ID, err)
	}
	if err := durable.SyncDir(filepath.Dir(path)); err != nil {
		h.log.Warn("pickup folder sync", "dir", filepath.Dir(path), "err", err)
	}
	return true, nil
}

// badmail moves the claimed file path to the badmail folder under its own
// name (with a suffix if that is taken) and writes NAME.reason beside it,
// first, so that a crash in between leaves the file to be judged again.
func (h *Hub) badmail(sc *config.SendConnector, path, name string, why *badFile) error {
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
		logLine(name), sc.Name, h.server.Name, time.Now().Format(time.RFC3339), why.Status, why.Reason, why.Fix)
	if err := durable.WriteFile(target+".reason", []byte(text), 0o640); err != nil {
		return fmt.Errorf("badmail reason: %w", err)
	}
	if err := os.Rename(path, target); err != nil {
		os.Remove(target + ".reason")
		return fmt.Errorf("moving to badmail: %w", err)
	}
	if err := durable.SyncDir(dir); err != nil {
		h.log.Warn("badmail folder sync", "dir", dir, "err", err)
	}
	durable.SyncDir(filepath.Dir(path))
	h.log.Warn("pickup file moved to badmail", "connector", sc.Name, "file", target, "status", why.Status, "reason", why.Reason, "fix", why.Fix)
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

// safeFileName keeps a server name usable inside a file name.
func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < 0x20 {
			return '_'
		}
		return r
	}, s)
}
