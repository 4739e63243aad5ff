package client

import (
	"context"
	"time"
)

// Status is what `waypost client status` shows.
type Status struct {
	Profile      string       `json:"profile"`
	User         string       `json:"user"`
	API          string       `json:"api"`
	SMTP         string       `json:"smtp"`
	Online       bool         `json:"online"`          // the hub's API answered just now
	Error        string       `json:"error,omitempty"` // why it did not
	AddressTypes CacheStatus  `json:"address_types"`
	OAB          CacheStatus  `json:"oab"`
	Outbox       OutboxStatus `json:"outbox"`
	Inbox        InboxStatus  `json:"inbox"`
	Sent         int          `json:"sent"` // messages in the sent folder
	LastSync     *time.Time   `json:"last_sync"`
	LastOnline   *time.Time   `json:"last_online"`
}

// CacheStatus describes a cached copy: its version and its age.
type CacheStatus struct {
	Site       string    `json:"site,omitempty"`    // address types: the user's site
	Types      []string  `json:"types,omitempty"`   // address types: the list
	Entries    *int      `json:"entries,omitempty"` // address book: how many entries
	Version    string    `json:"version"`           // "" before the first download
	Fetched    time.Time `json:"fetched,omitzero"`  // when this version was downloaded
	Checked    time.Time `json:"checked,omitzero"`  // when the hub last confirmed it
	AgeSeconds int64     `json:"age_seconds"`       // seconds since it was last confirmed (-1: never)
}

// OutboxStatus counts what waits in the outbox.
type OutboxStatus struct {
	Messages int `json:"messages"`
	Held     int `json:"held"`    // recipients whose address type waits for a sync
	Pending  int `json:"pending"` // recipients waiting to be submitted
}

// InboxStatus counts the inbox.
type InboxStatus struct {
	Messages int `json:"messages"`
	Local    int `json:"local"` // local non-delivery reports among them
}

// Status reports the profile: whether the hub answers (a conditional
// request for the address types, which also refreshes them when they
// changed), the cached versions and their ages, and the folders.
func (p *Profile) Status(ctx context.Context) (Status, error) {
	st := Status{Profile: p.Dir, User: p.Settings.User, API: p.Settings.API, SMTP: p.Settings.SMTP}
	if _, err := p.refreshTypes(ctx); err != nil {
		st.Error = err.Error()
	} else {
		st.Online = true
		s, err := p.State()
		if err == nil {
			s.LastOnline = p.now()
			err = p.saveState(s)
		}
		if err != nil {
			return st, err
		}
	}
	now := p.now()
	age := func(checked time.Time) int64 {
		if checked.IsZero() {
			return -1
		}
		return int64(now.Sub(checked) / time.Second)
	}
	types, _, err := p.Types()
	if err != nil {
		return st, err
	}
	st.AddressTypes = CacheStatus{Site: types.Site, Types: types.Types, Version: types.Version, Fetched: types.Fetched, Checked: types.Checked, AgeSeconds: age(types.Checked)}
	book, err := p.Book()
	if err != nil {
		return st, err
	}
	n := len(book.Entries)
	st.OAB = CacheStatus{Entries: &n, Version: book.Version, Fetched: book.Fetched, Checked: book.Checked, AgeSeconds: age(book.Checked)}
	items, err := p.Outbox()
	if err != nil {
		return st, err
	}
	st.Outbox.Messages = len(items)
	for _, it := range items {
		st.Outbox.Held += it.Count(Held)
		st.Outbox.Pending += it.Count(Pending)
	}
	inbox, err := p.Inbox()
	if err != nil {
		return st, err
	}
	st.Inbox.Messages = len(inbox)
	for _, m := range inbox {
		if m.Local {
			st.Inbox.Local++
		}
	}
	sent, err := p.SentItems()
	if err != nil {
		return st, err
	}
	st.Sent = len(sent)
	s, err := p.State()
	if err != nil {
		return st, err
	}
	if !s.LastSync.IsZero() {
		st.LastSync = &s.LastSync
	}
	if !s.LastOnline.IsZero() {
		st.LastOnline = &s.LastOnline
	}
	return st, nil
}
