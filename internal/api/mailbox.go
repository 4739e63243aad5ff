package api

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/durable"
	"github.com/waypost/waypost/internal/routing"
)

// MessageInfo is one message of a mailbox listing.
type MessageInfo struct {
	ID      string `json:"id"`      // the Maildir unique name; use it in the URL of the message
	From    string `json:"from"`    // the From field, RFC 2047 words decoded
	Subject string `json:"subject"` // the Subject field, decoded
	Date    string `json:"date"`    // the Date field as RFC 3339, or the delivery time when it has none
	Size    int64  `json:"size"`    // bytes of the stored message (with the Return-Path and Delivered-To fields)
}

// messageList is the body of GET /api/v1/mailbox/messages.
type messageList struct {
	State    string        `json:"state"`    // give it as ?since= next time
	Full     bool          `json:"full"`     // true: every message of the mailbox; false: only those new since the state given
	Messages []MessageInfo `json:"messages"` // oldest first
}

// maildir returns the caller's Maildir on this hub, or answers 421 when
// the caller's mailbox lives on another hub.
func (s *Server) maildir(w http.ResponseWriter, c *caller) (string, bool) {
	if !strings.EqualFold(c.entry.Server, s.cfg.Server) {
		where := ""
		if c.home != nil && c.home.API != "" {
			where = "; its API is http://" + c.home.API
		}
		writeError(w, http.StatusMisdirectedRequest, CodeWrongServer, "the mailbox of %s is on server %s, not %s%s", c.mailbox, c.entry.Server, s.cfg.Server, where)
		return "", false
	}
	return s.cfg.Mailboxes.Dir(delivery.Folder(c.mailbox)), true
}

// lock takes the lock of a Maildir's uid list.
func (s *Server) lock(dir string) func() {
	m, _ := s.folders.LoadOrStore(dir, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// listMessages serves GET /api/v1/mailbox/messages[?since=STATE].
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, eng *routing.Engine, c *caller) {
	q := r.URL.Query()
	var since syncState
	hasSince := q.Has("since")
	if hasSince {
		var err error
		if since, err = parseState(q.Get("since")); err != nil {
			writeError(w, http.StatusBadRequest, CodeBadSince, "since=%q: %v", q.Get("since"), err)
			return
		}
	}
	dir, ok := s.maildir(w, c)
	if !ok {
		return
	}
	unlock := s.lock(dir)
	list, files, reset, err := syncUIDs(dir, s.cfg.Now())
	unlock()
	if reset != nil {
		s.log.Warn("api: mailbox uid list replaced", "mailbox", c.mailbox, "reason", reset)
	}
	if err != nil {
		s.log.Error("api: listing a mailbox", "mailbox", c.mailbox, "err", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, "cannot list the mailbox; the hub's log has the details")
		return
	}
	// Only the messages numbered after the state, when the state is of this
	// numbering (validity 0: the client has seen nothing yet) and not from
	// its future.
	out := messageList{State: list.state(), Full: true, Messages: []MessageInfo{}}
	var after uint64
	if hasSince && (since.validity == list.validity || since.validity == 0) && since.last < list.next {
		out.Full, after = false, since.last
		if since.validity == 0 {
			after = 0
		}
	}
	for _, f := range files {
		if f.uid > after {
			out.Messages = append(out.Messages, describe(f))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// describe reads the header fields of a listing from a message file.
func describe(f msgFile) MessageInfo {
	info := MessageInfo{ID: f.id, Size: f.size, Date: f.mtime.UTC().Format(time.RFC3339)}
	file, err := os.Open(f.path)
	if err != nil {
		return info
	}
	defer file.Close()
	msg, err := mail.ReadMessage(bufio.NewReader(io.LimitReader(file, 1<<20)))
	if err != nil {
		return info
	}
	dec := mime.WordDecoder{}
	decode := func(v string) string {
		if d, err := dec.DecodeHeader(v); err == nil {
			return d
		}
		return v
	}
	info.From = decode(msg.Header.Get("From"))
	info.Subject = decode(msg.Header.Get("Subject"))
	if t, err := mail.ParseDate(msg.Header.Get("Date")); err == nil {
		info.Date = t.Format(time.RFC3339)
	}
	return info
}

// findMessage returns the file of message id in the Maildir dir, by
// comparing id with the names new/ and cur/ list.
func findMessage(dir, id string) (string, error) {
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		for _, e := range ents {
			if name, _, _ := strings.Cut(e.Name(), ":"); name == id && e.Type().IsRegular() {
				return filepath.Join(dir, sub, e.Name()), nil
			}
		}
	}
	return "", fs.ErrNotExist
}

// message checks the {id} of a message URL and finds its file; it answers
// the errors itself.
func (s *Server) message(w http.ResponseWriter, r *http.Request, c *caller) (string, string, bool) {
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, CodeBadID, "%q is not a message id (ids come from the message list; no '/', ':', leading dot or control characters)", id)
		return "", "", false
	}
	dir, ok := s.maildir(w, c)
	if !ok {
		return "", "", false
	}
	path, err := findMessage(dir, id)
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no message %s in the mailbox of %s", id, c.mailbox)
		return "", "", false
	}
	if err != nil {
		s.log.Error("api: finding a message", "mailbox", c.mailbox, "id", id, "err", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, "cannot read the mailbox; the hub's log has the details")
		return "", "", false
	}
	return dir, path, true
}

// fetchMessage serves GET /api/v1/mailbox/messages/{id}: the message as
// stored, RFC 5322 (message/rfc822).
func (s *Server) fetchMessage(w http.ResponseWriter, r *http.Request, eng *routing.Engine, c *caller) {
	_, path, ok := s.message(w, r, c)
	if !ok {
		return
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no message %s in the mailbox of %s", r.PathValue("id"), c.mailbox)
		return
	}
	if err != nil {
		s.log.Error("api: opening a message", "path", path, "err", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, "cannot read the message; the hub's log has the details")
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeInternal, "cannot read the message; the hub's log has the details")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "message/rfc822")
	h.Set("Content-Length", strconv.FormatInt(info.Size(), 10))
	h.Set("Cache-Control", "private, no-cache")
	w.WriteHeader(http.StatusOK)
	io.Copy(w, f)
}

// deleteMessage serves DELETE /api/v1/mailbox/messages/{id}: 204 once the
// file is gone from disk.
func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request, eng *routing.Engine, c *caller) {
	dir, path, ok := s.message(w, r, c)
	if !ok {
		return
	}
	unlock := s.lock(dir)
	err := os.Remove(path)
	if err == nil {
		err = durable.SyncDir(filepath.Dir(path))
	}
	unlock()
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no message %s in the mailbox of %s", r.PathValue("id"), c.mailbox)
		return
	}
	if err != nil {
		s.log.Error("api: deleting a message", "path", path, "err", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, "cannot delete the message; the hub's log has the details")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
