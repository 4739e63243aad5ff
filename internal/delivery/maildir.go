package delivery

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/waypost/waypost/internal/durable"
)

// Maildir delivers to the mailboxes of this hub: one Maildir per mailbox
// under Root (cr.yp.to/proto/maildir.html): the message is written to tmp/
// with a Return-Path and a Delivered-To field before it, synced, renamed
// into new/, and new/ is synced, so a delivered message survives a crash.
type Maildir struct {
	Root     string // folder holding one folder per mailbox
	Hostname string // for unique file names
	seq      atomic.Uint64
}

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

// Deliver implements Agent.
func (m *Maildir) Deliver(ctx context.Context, msg *Message) []Result {
	out := make([]Result, len(msg.Recipients))
	for i, r := range msg.Recipients {
		if err := ctx.Err(); err != nil {
			out[i] = Result{Class: Retry, Status: "4.3.2", Text: "delivery stopped: " + err.Error()}
			continue
		}
		name, err := m.deliverOne(msg, r)
		if err != nil {
			out[i] = Result{Class: Retry, Status: "4.3.0", Text: fmt.Sprintf("mailbox %s: %v", r.Mailbox, err)}
			continue
		}
		out[i] = Result{Class: Delivered, Status: "2.0.0", Text: "delivered to mailbox " + r.Mailbox + " as " + name}
	}
	return out
}

func (m *Maildir) deliverOne(msg *Message, r Recipient) (string, error) {
	if r.Folder == "" {
		return "", fmt.Errorf("no mailbox folder for %s:%s", r.Type, r.Address)
	}
	dir := m.Dir(r.Folder)
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return "", err
		}
	}
	body, err := msg.Open()
	if err != nil {
		return "", fmt.Errorf("reading the queued message: %w", err)
	}
	defer body.Close()
	base := fmt.Sprintf("%d.M%dP%dQ%d.%s", time.Now().Unix(), time.Now().Nanosecond()/1000, os.Getpid(), m.seq.Add(1), safeHost(m.Hostname))
	tmp := filepath.Join(dir, "tmp", base)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	// RFC 5321 section 4.4: the final delivery adds Return-Path.
	head := fmt.Sprintf("Return-Path: <%s>\r\nDelivered-To: %s\r\n", msg.From, r.Address)
	if _, err := io.WriteString(f, head); err != nil {
		return fail(err)
	}
	n, err := io.Copy(f, body)
	if err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", err
	}
	name := fmt.Sprintf("%s,S=%d", base, int64(len(head))+n)
	if err := os.Rename(tmp, filepath.Join(dir, "new", name)); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := durable.SyncDir(filepath.Join(dir, "new")); err != nil {
		return "", err
	}
	return name, nil
}

// safeHost keeps a host name usable in a Maildir file name ('/' and ':'
// are not allowed there).
func safeHost(h string) string {
	if h == "" {
		h = "localhost"
	}
	return strings.NewReplacer("/", `\057`, ":", `\072`).Replace(h)
}
