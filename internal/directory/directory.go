// Package directory holds the organization's recipients (mailboxes,
// contacts and groups) and finds them by any of their proxy addresses, of
// any address type (exchange-semantics.md section 7, interfaces.md
// section 4). An EX address (a legacy Exchange DN) is found through X500
// proxies, as Exchange's categorizer does.
//
// Memory is the store for recipients listed in the organization file; the
// routing engine sees only the Directory interface.
package directory

import (
	"fmt"
	"sort"
	"strings"

	"github.com/waypost/waypost/internal/address"
)

// Kind is the kind of a directory entry.
type Kind string

// Entry kinds.
const (
	Mailbox Kind = "mailbox"
	Contact Kind = "contact"
	Group   Kind = "group"
)

// Proxy is one address of an entry. Primary is true when the type prefix was
// written in upper case ("SMTP:" rather than "smtp:").
type Proxy struct {
	address.Address
	Primary bool
}

// Entry is one recipient object.
type Entry struct {
	Kind         Kind
	Name         string
	Server       string // mailbox: home server
	Addresses    []Proxy
	Target       *address.Address // contact: where mail for it goes
	Members      []string         // group: member addresses, any form
	PasswordHash string           // mailbox: for SMTP AUTH and the API
}

// PrimarySMTP returns the entry's primary SMTP address, or its first SMTP
// address, or "".
func (e *Entry) PrimarySMTP() string {
	first := ""
	for _, p := range e.Addresses {
		if p.Type != "SMTP" {
			continue
		}
		if p.Primary {
			return p.Value
		}
		if first == "" {
			first = p.Value
		}
	}
	return first
}

// Directory finds recipients by address.
type Directory interface {
	// Lookup returns the entry that has a as one of its proxy addresses, or nil.
	Lookup(a address.Address) *Entry
	// Entries returns every entry, in a stable order.
	Entries() []*Entry
}

// Memory is an in-memory Directory.
type Memory struct {
	entries []*Entry
	byKey   map[string]*Entry
}

// DuplicateError says that two entries share an address.
type DuplicateError struct {
	Address     string
	First, Then *Entry
	Index       int // index of Then in the input
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("address %s of %q is already an address of %q", e.Address, e.Then.Name, e.First.Name)
}

// NewMemory indexes entries. Every address must belong to one entry only:
// the first duplicate found is returned as a *DuplicateError (the loader of
// the organization file reports them all itself).
func NewMemory(entries []*Entry) (*Memory, error) {
	m := &Memory{entries: entries, byKey: make(map[string]*Entry)}
	for i, e := range entries {
		for _, p := range e.Addresses {
			k := p.Key()
			if prev, ok := m.byKey[k]; ok && prev != e {
				return nil, &DuplicateError{Address: p.String(), First: prev, Then: e, Index: i}
			}
			m.byKey[k] = e
		}
	}
	return m, nil
}

// Lookup implements Directory.
func (m *Memory) Lookup(a address.Address) *Entry {
	if e := m.byKey[a.Key()]; e != nil {
		return e
	}
	if strings.EqualFold(a.Type, "EX") {
		return m.byKey[address.Address{Type: "X500", Value: a.Value}.Key()]
	}
	return nil
}

// Entries implements Directory.
func (m *Memory) Entries() []*Entry { return m.entries }

// Types returns the address types that some entry of d has, sorted.
func Types(d Directory) []string {
	set := map[string]bool{}
	for _, e := range d.Entries() {
		for _, p := range e.Addresses {
			set[p.Type] = true
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// LookupForms returns the addresses by which Lookup finds the owner of a
// proxy address: the address itself and, for an X500 proxy, the EX address
// with the same value (Exchange resolves legacy DNs through X500 proxies).
func LookupForms(a address.Address) []address.Address {
	return AppendLookupForms(nil, a)
}

// AppendLookupForms is LookupForms appending to dst.
func AppendLookupForms(dst []address.Address, a address.Address) []address.Address {
	dst = append(dst, a)
	if a.Type == "X500" {
		dst = append(dst, address.Address{Type: "EX", Value: a.Value})
	}
	return dst
}
