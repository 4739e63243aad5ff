// Package directory holds the organization's recipients (mailboxes,
// contacts and groups) and finds them by any of their proxy addresses, of
// any address type (exchange-semantics.md section 7, interfaces.md
// section 4). An EX address (a legacy Exchange DN) is found through X500
// proxies, as Exchange's categorizer does.
//
// The routing engine, submission AUTH, the API and the address-type list see
// only the Directory interface. Memory holds the recipients listed in the
// organization file; the embedded store (package embedded) and LDAP or
// Active Directory (package ldapdir) hold organization-sized directories,
// and Combine puts the file's recipients in front of either.
package directory

import (
	"errors"
	"fmt"
	"sort"

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
	// ID names the entry within its directory, stable across lookups
	// ("file:3", "db:17", "ldap:cn=alice,dc=contoso,dc=test"): routing
	// tells entries apart by it, since a store may return a new *Entry on
	// every lookup.
	ID           string
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

// Ident is what tells e apart from other entries: its ID, or the pointer
// itself for an entry built without one.
func (e *Entry) Ident() any {
	if e.ID != "" {
		return e.ID
	}
	return e
}

// ErrUnavailable is wrapped by the errors of a directory that cannot be
// asked now (an LDAP server down or timing out). It is transient: mail
// waits (4.4.3) rather than bouncing, and AUTH answers 454 4.7.0.
var ErrUnavailable = errors.New("directory unavailable")

// ErrBadCredentials is Authenticate's answer to an unknown user, a wrong
// password, or an entry that is not a mailbox with a password.
var ErrBadCredentials = errors.New("bad user name or password")

// Directory finds recipients by address.
type Directory interface {
	// Lookup returns the entry that has a as one of its proxy addresses, or
	// nil when there is none or the directory cannot be asked.
	Lookup(a address.Address) *Entry
	// Find is Lookup that tells a failure to ask (an error wrapping
	// ErrUnavailable) from a recipient that is not there (nil, nil).
	Find(a address.Address) (*Entry, error)
	// Entries returns every entry, in a stable order (nil when the
	// directory cannot be read). Large directories should use Walk.
	Entries() []*Entry
	// Walk calls f for every entry in a stable order until f returns false.
	Walk(f func(*Entry) bool) error
	// Types returns the address types that some entry has, sorted, and a
	// version that changes when the set changes.
	Types() (types []string, version string, err error)
	// EachWithType calls f for the entries that have an address of type
	// typ (upper case), until f returns false.
	EachWithType(typ string, f func(*Entry) bool) error
	// Authenticate checks a user name (any SMTP address of a mailbox) and
	// password, and returns the mailbox. Failures wrap ErrBadCredentials or
	// ErrUnavailable.
	Authenticate(user, password string) (*Entry, error)
}

// Memory is an in-memory Directory.
type Memory struct {
	entries []*Entry
	byKey   map[string]*Entry
	byType  map[string][]*Entry
	types   []string
	version string
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
	m := &Memory{entries: entries, byKey: make(map[string]*Entry), byType: map[string][]*Entry{}}
	for i, e := range entries {
		for _, p := range e.Addresses {
			k := p.Key()
			if prev, ok := m.byKey[k]; ok && prev != e {
				return nil, &DuplicateError{Address: p.String(), First: prev, Then: e, Index: i}
			}
			m.byKey[k] = e
			if l := m.byType[p.Type]; len(l) == 0 || l[len(l)-1] != e {
				m.byType[p.Type] = append(l, e)
			}
		}
	}
	for t := range m.byType {
		m.types = append(m.types, t)
	}
	sort.Strings(m.types)
	m.version = TypesVersion(m.types)
	return m, nil
}

// Lookup implements Directory.
func (m *Memory) Lookup(a address.Address) *Entry {
	k, alt := LookupKeys(a)
	if e := m.byKey[k]; e != nil || alt == "" {
		return e
	}
	return m.byKey[alt]
}

// Find implements Directory; a Memory is always available.
func (m *Memory) Find(a address.Address) (*Entry, error) { return m.Lookup(a), nil }

// Entries implements Directory.
func (m *Memory) Entries() []*Entry { return m.entries }

// Walk implements Directory.
func (m *Memory) Walk(f func(*Entry) bool) error {
	for _, e := range m.entries {
		if !f(e) {
			break
		}
	}
	return nil
}

// Types implements Directory.
func (m *Memory) Types() ([]string, string, error) { return m.types, m.version, nil }

// EachWithType implements Directory.
func (m *Memory) EachWithType(typ string, f func(*Entry) bool) error {
	for _, e := range m.byType[typ] {
		if !f(e) {
			break
		}
	}
	return nil
}

// Authenticate implements Directory: the mailbox's bcrypt password_hash.
func (m *Memory) Authenticate(user, password string) (*Entry, error) {
	return CheckPassword(m.Lookup(address.Address{Type: "SMTP", Value: user}), password)
}

// Types returns the address types that some entry of d has, sorted (none
// when d cannot be asked).
func Types(d Directory) []string {
	t, _, _ := d.Types()
	return t
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
