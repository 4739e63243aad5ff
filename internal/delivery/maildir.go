package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waypost/waypost/internal/durable"
	"github.com/waypost/waypost/internal/status"
)

// Maildir delivers to the mailboxes of this hub: one Maildir per mailbox
// under Root (cr.yp.to/proto/maildir.html): the message is written to tmp/
// with a Return-Path and a Delivered-To field before it, synced, renamed
// into new/, and new/ is synced, so a delivered message survives a crash,
// a power cut included. The folders a first delivery creates (Root, the
// mailbox's folder, Maildir/, tmp/, new/, cur/) are made durable by an
// fsync of the folder holding each, once per mailbox and process.
//
// A delivery is idempotent: the file's name is made from the queue ID and
// the recipient (see uniqueName), so a message delivered again after a
// crash (before the queue recorded the first delivery) finds its copy in
// new/ or cur/ and leaves no second one.
type Maildir struct {
	Root     string     // folder holding one folder per mailbox
	Hostname string     // for unique file names
	FS       durable.FS // nil for the real file system
	seq      atomic.Uint64
	ready    sync.Map // Maildirs whose folders this process made durable
}

// processStart is when this process started: a message that arrived
// before may have been delivered by an earlier process, and then read
// and moved to cur/ by a client.
var processStart = time.Now()

// Folder returns the folder name of a mailbox: its primary SMTP address,
// lower case, path-escaped so that no address can leave Root.
func Folder(primarySMTP string) string {
	f := url.PathEscape(strings.ToLower(primarySMTP))
	if f == "" || f == "." || f == ".." {
		f = "_" + f
	}
	return f
}

// Dir returns the Maildir of the mailbox with the given folder name.
func (m *Maildir) Dir(folder string) string { return filepath.Join(m.Root, folder, "Maildir") }

func (m *Maildir) fs() durable.FS {
	if m.FS == nil {
		return durable.OS
	}
	return m.FS
}

// Deliver implements Agent.
func (m *Maildir) Deliver(ctx context.Context, msg *Message) []Result {
	out := make([]Result, len(msg.Recipients))
	for i, r := range msg.Recipients {
		if err := ctx.Err(); err != nil {
			out[i] = Result{Class: Retry, Status: status.NotAccepting, Text: "delivery stopped: " + err.Error()}
			continue
		}
		name, again, err := m.deliverOne(msg, r)
		if err != nil {
			out[i] = Result{Class: Retry, Status: status.SystemTransient, Text: fmt.Sprintf("mailbox %s: %v", r.Mailbox, err)}
			continue
		}
		text := "delivered to mailbox " + r.Mailbox + " as " + name
		if again {
			text += " (there already: delivered before a restart)"
		}
		out[i] = Result{Class: Delivered, Status: status.OK, Text: text}
	}
	return out
}

// deliverOne stores msg for r and returns the file's name; again is true
// when it was there already.
func (m *Maildir) deliverOne(msg *Message, r Recipient) (name string, again bool, err error) {
	if r.Folder == "" {
		return "", false, fmt.Errorf("no mailbox folder for %s:%s", r.Type, r.Address)
	}
	dir := m.Dir(r.Folder)
	if err := m.prepare(dir); err != nil {
		return "", false, err
	}
	// RFC 5321 section 4.4: the final delivery adds Return-Path.
	head := fmt.Sprintf("Return-Path: <%s>\r\nDelivered-To: %s\r\n", msg.From, r.Address)
	base := m.uniqueName(msg, r)
	if base != "" {
		name := fmt.Sprintf("%s,S=%d", base, int64(len(head))+msg.Size)
		if found, err := m.find(dir, name, msg.Arrival); found != "" || err != nil {
			return found, err == nil, err
		}
	} else {
		base = fmt.Sprintf("%d.M%dP%dQ%d.%s", time.Now().Unix(), time.Now().Nanosecond()/1000, os.Getpid(), m.seq.Add(1), safeHost(m.Hostname))
	}
	body, err := msg.Open()
	if err != nil {
		return "", false, fmt.Errorf("reading the queued message: %w", err)
	}
	defer body.Close()
	// The temp file's name is unique to this attempt: a file left in tmp/
	// by a crash is never reused (readers remove those older than 36
	// hours, as the Maildir specification says).
	fsys := m.fs()
	tmp := filepath.Join(dir, "tmp", fmt.Sprintf("%d.M%dP%dQ%d.%s", time.Now().Unix(), time.Now().Nanosecond()/1000, os.Getpid(), m.seq.Add(1), safeHost(m.Hostname)))
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, err
	}
	if _, err := io.WriteString(f, head); err != nil {
		durable.Abort(fsys, f)
		return "", false, err
	}
	n, err := io.Copy(f, body)
	if err != nil {
		durable.Abort(fsys, f)
		return "", false, err
	}
	name = fmt.Sprintf("%s,S=%d", base, int64(len(head))+n)
	if err := durable.Commit(fsys, f, filepath.Join(dir, "new", name)); err != nil {
		return "", false, err
	}
	return name, false, nil
}

// prepare creates the Maildir dir, and makes its folders durable, once
// per process: each new folder's name is durable only once the folder
// holding it is fsynced (POSIX fsync; docs/architecture.md, "Power
// cuts"). A Maildir made by an earlier process is synced again, up to
// the folder holding Root: that process may have died between a mkdir
// and its fsync.
func (m *Maildir) prepare(dir string) error {
	if _, ok := m.ready.Load(dir); ok {
		if _, err := os.Stat(filepath.Join(dir, "tmp")); err == nil {
			return nil
		}
		m.ready.Delete(dir) // removed meanwhile: make it again
	}
	fsys := m.fs()
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := durable.MkdirAll(fsys, filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	for _, d := range []string{dir, filepath.Dir(dir), m.Root, filepath.Dir(filepath.Clean(m.Root))} {
		if err := fsys.SyncDir(d); err != nil {
			return err
		}
	}
	m.ready.Store(dir, true)
	return nil
}

// uniqueName returns the name a delivery of msg to r is stored under,
// without its ",S=size": the same for every attempt, so that a second
// delivery can find the first. The Maildir specification's unique name
// is "time.unique.host"; here time is the message's arrival, unique is
// "W", the queue ID and a hash of the recipient's address, and host is
// Hostname. It returns "" for a message without a queue ID.
func (m *Maildir) uniqueName(msg *Message, r Recipient) string {
	if msg.ID == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(msg.ID + "\x00" + strings.ToUpper(r.Type) + ":" + strings.ToLower(r.Address)))
	id := strings.Map(func(c rune) rune {
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' {
			return c
		}
		return '_'
	}, msg.ID)
	t := int64(0) // a message without an arrival time (never from the queue)
	if !msg.Arrival.IsZero() {
		t = msg.Arrival.Unix()
	}
	return strconv.FormatInt(t, 10) + ".W" + id + "_" + hex.EncodeToString(sum[:8]) + "." + safeHost(m.Hostname)
}

// find looks for a delivery stored as name: in new/, where it stays
// until a client reads the mailbox, or in cur/ with the ":2,flags" a
// client adds (and any ",field=value" before it) (cur/ is listed only for a message that arrived before
// this process started: only an earlier process can have delivered it
// and seen it read). It returns the name found, after an fsync of its
// folder (the earlier delivery may have died before its own).
func (m *Maildir) find(dir, name string, arrival time.Time) (string, error) {
	if _, err := os.Lstat(filepath.Join(dir, "new", name)); err == nil {
		return name, m.fs().SyncDir(filepath.Join(dir, "new"))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if !arrival.Before(processStart) {
		return "", nil
	}
	cur := filepath.Join(dir, "cur")
	d, err := os.Open(cur)
	if err != nil {
		return "", err
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(1024)
		for _, n := range names {
			// A client adds ":2,flags", and may add fields (",W=size").
			if n == name || strings.HasPrefix(n, name+":") || strings.HasPrefix(n, name+",") {
				return n, m.fs().SyncDir(cur)
			}
		}
		if err == io.EOF {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("listing %s: %w", cur, err)
		}
	}
}

// safeHost keeps a host name usable in a Maildir file name ('/' and ':'
// are not allowed there).
func safeHost(h string) string {
	if h == "" {
		h = "localhost"
	}
	return strings.NewReplacer("/", `\057`, ":", `\072`).Replace(h)
}
