package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/mailtext"
)

// Item is a message in the outbox (or, once every recipient is sent or
// refused, in the sent folder): the message as written and the state of
// each recipient.
type Item struct {
	ID         string      `json:"id"`
	Created    time.Time   `json:"created"`
	From       string      `json:"from"`
	Subject    string      `json:"subject"`
	MessageID  string      `json:"message_id"`
	Recipients []Recipient `json:"recipients"`
	Attempts   int         `json:"attempts"`             // submissions tried
	LastError  string      `json:"last_error,omitempty"` // why the last submission did not finish
	Message    string      `json:"message"`              // the RFC 5322 message, CRLF line ends
}

// Count returns how many recipients are in state.
func (it *Item) Count(state string) int {
	n := 0
	for _, r := range it.Recipients {
		if r.State == state {
			n++
		}
	}
	return n
}

// Done reports whether no recipient waits any more.
func (it *Item) Done() bool { return it.Count(Pending)+it.Count(Held) == 0 }

// newID is a sortable, unique name for a profile file.
func newID(now time.Time) string {
	return now.UTC().Format("20060102T150405.000000000") + "-" + mailtext.RandomHex(4)
}

// validID reports whether id can name a file of the profile: letters,
// digits and . - _ , = + (a Maildir unique name such as
// "1764406800.M1P2Q3.hub,S=42" is one), not starting with a dot.
func validID(id string) bool {
	if id == "" || len(id) > 200 || id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ',' || c == '=' || c == '+') {
			return false
		}
	}
	return true
}

// saveItem writes an outbox item durably.
func (p *Profile) saveItem(it *Item) error {
	return writeJSON(p.path(outboxDir, it.ID+".json"), it, 0o600)
}

// finishItem moves a done item from the outbox to the sent folder: the
// sent copy is written first, so a crash leaves it in one place or both,
// never neither.
func (p *Profile) finishItem(it *Item) error {
	if err := writeJSON(p.path(sentDir, it.ID+".json"), it, 0o600); err != nil {
		return err
	}
	return removeFile(p.path(outboxDir, it.ID+".json"))
}

// Outbox returns the messages waiting in the outbox, oldest first.
func (p *Profile) Outbox() ([]*Item, error) { return p.items(outboxDir) }

// SentItems returns the messages of the sent folder, oldest first.
func (p *Profile) SentItems() ([]*Item, error) { return p.items(sentDir) }

func (p *Profile) items(dir string) ([]*Item, error) {
	files, err := os.ReadDir(p.path(dir))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s: %w", p.path(dir), err)
	}
	var out []*Item
	for _, f := range files {
		name := f.Name()
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		var it Item
		if err := readJSON(filepath.Join(p.path(dir), name), &it); err != nil {
			return nil, err
		}
		out = append(out, &it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
