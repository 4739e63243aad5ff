// Package tracking is the message tracking log of a hub, after Exchange's
// message tracking: one JSON line per event in the life of a message
// (RECEIVE, RESOLVE, EXPAND, ROUTE, DEFER, SEND, DELIVER, FAIL, DSN,
// QUARANTINE; SHADOW, DISCHARGE and RESUBMIT of shadow redundancy), so that an administrator can answer "what happened to the
// mail Alice sent Bob this morning" with `waypost track`. Lines are
// appended to tracking.log in the hub's data folder; Search reads them
// back with filters.
package tracking

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Event names.
const (
	Receive    = "RECEIVE"
	Resolve    = "RESOLVE"
	Expand     = "EXPAND"
	Route      = "ROUTE"
	Defer      = "DEFER"
	Send       = "SEND"
	Deliver    = "DELIVER"
	Fail       = "FAIL"
	DSN        = "DSN"
	Quarantine = "QUARANTINE"
)

// Event is one line of the log.
type Event struct {
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	ID        string    `json:"id,omitempty"`         // internal queue id
	MessageID string    `json:"message_id,omitempty"` // the Message-ID header
	Sender    string    `json:"sender,omitempty"`
	Recipient string    `json:"recipient,omitempty"`
	NextHop   string    `json:"next_hop,omitempty"`
	Connector string    `json:"connector,omitempty"`
	Status    string    `json:"status,omitempty"` // enhanced status code
	Detail    string    `json:"detail,omitempty"` // reason, remote reply
	Server    string    `json:"server,omitempty"` // the hub that wrote the line
	Actor     string    `json:"actor,omitempty"`  // who did it, for administrators' actions (admin.go)
}

// Log appends events to a file. It is safe for concurrent use.
type Log struct {
	mu     sync.Mutex
	f      *os.File
	server string
	now    func() time.Time
}

// Open opens (or creates) the log file at path; server names the hub in
// every line.
func Open(path, server string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("tracking log: %w", err)
	}
	return &Log{f: f, server: server, now: time.Now}, nil
}

// Write appends one event; Time and Server are filled when empty. The log
// is for people, not for recovery: lines are not synced one by one.
func (l *Log) Write(e Event) error {
	if e.Time.IsZero() {
		e.Time = l.now().UTC()
	}
	if e.Server == "" {
		e.Server = l.server
	}
	// Message-IDs and addresses keep their < and > as people search for
	// them: no HTML escaping (json.Marshal would write \u003c).
	bp := lines.Get().(*[]byte)
	defer lines.Put(bp)
	line := appendEvent((*bp)[:0], &e) // one line, ending in a newline
	if line == nil {
		return fmt.Errorf("tracking log: the event of %s cannot be written: its time %v is not a year JSON can hold", e.ID, e.Time)
	}
	*bp = line
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("tracking log is closed")
	}
	_, err := l.f.Write(line)
	return err
}

// lines are the buffers Write encodes its lines in, kept between Writes.
var lines = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Close syncs and closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Sync()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// Filter selects events; empty fields match everything. Text fields match
// case-insensitively as substrings, so "alice" finds alice@contoso.test.
type Filter struct {
	ID        string
	MessageID string
	Sender    string
	Recipient string
	Event     string
	Since     time.Time
	Until     time.Time
}

// Match reports whether e passes f.
func (f Filter) Match(e Event) bool {
	has := func(field, want string) bool {
		return want == "" || strings.Contains(strings.ToLower(field), strings.ToLower(want))
	}
	return has(e.ID, f.ID) && has(e.MessageID, f.MessageID) && has(e.Sender, f.Sender) &&
		has(e.Recipient, f.Recipient) && (f.Event == "" || strings.EqualFold(e.Event, f.Event)) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) && (f.Until.IsZero() || !e.Time.After(f.Until))
}

// Search reads a log and calls fn for every event that f matches, in file
// order. A line that does not parse (a torn last line after a crash) is
// reported to bad with its line number and skipped.
func Search(r io.Reader, f Filter, fn func(Event), bad func(line int, err error)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for n := 1; sc.Scan(); n++ {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			if bad != nil {
				bad(n, err)
			}
			continue
		}
		if f.Match(e) {
			fn(e)
		}
	}
	return sc.Err()
}
