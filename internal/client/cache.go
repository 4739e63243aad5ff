package client

import (
	"errors"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/address"
)

// TypesCache is the cached address-type list of the user's site
// (interfaces.md section 4) with what revalidates it.
type TypesCache struct {
	AddressTypes
	ETag    string    `json:"etag"`
	Fetched time.Time `json:"fetched"` // when this version was downloaded
	Checked time.Time `json:"checked"` // when the hub last confirmed it
}

// Has reports whether the list holds type t (case-insensitive).
func (c *TypesCache) Has(t string) bool {
	for _, x := range c.Types {
		if strings.EqualFold(x, t) {
			return true
		}
	}
	return false
}

// OAB is the cached offline address book.
type OAB struct {
	Version string     `json:"version"`
	Entries []OABEntry `json:"entries"`
	Fetched time.Time  `json:"fetched"` // when the last change was downloaded
	Checked time.Time  `json:"checked"` // when the hub last confirmed it
}

// Lookup finds the entry with a proxy address of any type equal to a
// (compared by address.Key), or nil.
func (o *OAB) Lookup(a address.Address) *OABEntry {
	key := a.Key()
	for i := range o.Entries {
		for _, s := range o.Entries[i].Addresses {
			if pa, err := address.ParseTyped(s); err == nil && pa.Key() == key {
				return &o.Entries[i]
			}
		}
	}
	return nil
}

// apply merges an update into the book.
func (o *OAB) apply(u OABUpdate, now time.Time) {
	if u.Version != o.Version {
		o.Fetched = now
	}
	o.Checked = now
	if u.Full || o.Version == "" {
		o.Entries = u.Entries
	} else {
		gone := map[string]bool{}
		for _, id := range u.Removed {
			gone[id] = true
		}
		for _, e := range u.Changed {
			gone[e.ID] = true
		}
		kept := o.Entries[:0]
		for _, e := range o.Entries {
			if !gone[e.ID] {
				kept = append(kept, e)
			}
		}
		o.Entries = append(append(kept, u.Added...), u.Changed...)
	}
	if o.Entries == nil {
		o.Entries = []OABEntry{}
	}
	sort.Slice(o.Entries, func(i, j int) bool { return o.Entries[i].Name < o.Entries[j].Name })
	o.Version = u.Version
}

// primarySMTP is the entry's primary SMTP address ("SMTP:" upper case),
// else its first SMTP address, else "".
func (e *OABEntry) primarySMTP() string {
	first := ""
	for _, s := range e.Addresses {
		if len(s) > 5 && strings.EqualFold(s[:5], "smtp:") {
			if s[:5] == "SMTP:" {
				return s[5:]
			}
			if first == "" {
				first = s[5:]
			}
		}
	}
	return first
}

// Types returns the cached address types; ok is false before the first
// download.
func (p *Profile) Types() (c TypesCache, ok bool, err error) {
	err = readJSON(p.path(addrTypesFile), &c)
	if errors.Is(err, os.ErrNotExist) {
		return c, false, nil
	}
	return c, err == nil, err
}

func (p *Profile) saveTypes(c TypesCache) error { return writeJSON(p.path(addrTypesFile), c, 0o600) }

// Book returns the cached offline address book (empty before the first
// download).
func (p *Profile) Book() (OAB, error) {
	var o OAB
	err := readJSON(p.path(oabFile), &o)
	if errors.Is(err, os.ErrNotExist) {
		return o, nil
	}
	return o, err
}

func (p *Profile) saveBook(o OAB) error { return writeJSON(p.path(oabFile), o, 0o600) }
