package client

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/durable"
	"github.com/waypost/waypost/internal/mailtext"
)

// localHeader marks a report the client wrote itself.
const localHeader = "X-Waypost-Local-Report"

// InboxMessage describes one message of the profile's inbox.
type InboxMessage struct {
	ID      string `json:"id"`
	From    string `json:"from"`
	Subject string `json:"subject"`
	Date    string `json:"date"`  // RFC 3339, "" when the message has no readable Date
	Size    int64  `json:"size"`  // bytes
	Local   bool   `json:"local"` // a non-delivery report written by this client
}

// inboxName is the file name of an inbox message: the hub's id when it is
// a plain name, else its hex form.
func inboxName(id string) string {
	if validID(id) {
		return id
	}
	return "x-" + hex.EncodeToString([]byte(id))
}

// addInbox stores a message in the inbox durably under id.
func (p *Profile) addInbox(id string, msg []byte) error {
	return durable.WriteFile(p.path(inboxDir, inboxName(id)+".eml"), msg, 0o600)
}

func (p *Profile) hasInbox(id string) bool {
	_, err := os.Stat(p.path(inboxDir, inboxName(id)+".eml"))
	return err == nil
}

// Inbox lists the inbox, oldest first.
func (p *Profile) Inbox() ([]InboxMessage, error) {
	files, err := os.ReadDir(p.path(inboxDir))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return []InboxMessage{}, nil
		}
		return nil, fmt.Errorf("reading %s: %w", p.path(inboxDir), err)
	}
	out := []InboxMessage{}
	for _, f := range files {
		name := f.Name()
		if !strings.HasSuffix(name, ".eml") || strings.HasPrefix(name, ".") {
			continue
		}
		b, err := os.ReadFile(p.path(inboxDir, name))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p.path(inboxDir, name), err)
		}
		m := InboxMessage{ID: strings.TrimSuffix(name, ".eml"), Size: int64(len(b))}
		if msg, err := mail.ReadMessage(bytes.NewReader(b)); err == nil {
			dec := new(mime.WordDecoder)
			m.From = decodeHeader(dec, msg.Header.Get("From"))
			m.Subject = decodeHeader(dec, msg.Header.Get("Subject"))
			if d, err := msg.Header.Date(); err == nil {
				m.Date = d.Format(time.RFC3339)
			}
			m.Local = msg.Header.Get(localHeader) != ""
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Date != out[j].Date {
			return out[i].Date < out[j].Date
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Show returns the raw message with id from the inbox.
func (p *Profile) Show(id string) ([]byte, error) {
	if !validID(id) {
		return nil, fmt.Errorf("no message %q in the inbox (ids are listed by \"waypost client inbox\")", id)
	}
	b, err := os.ReadFile(p.path(inboxDir, id+".eml"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no message %q in the inbox (ids are listed by \"waypost client inbox\")", id)
	}
	return b, err
}

func decodeHeader(dec *mime.WordDecoder, s string) string {
	if d, err := dec.DecodeHeader(s); err == nil {
		return mailtext.OneLine(d)
	}
	return mailtext.OneLine(s)
}
