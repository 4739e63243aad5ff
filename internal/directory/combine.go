package directory

import (
	"errors"
	"sort"

	"github.com/waypost/waypost/internal/address"
)

// Combine puts the recipients of the organization file (file) in front of
// a larger store (backend): a lookup asks the file first, then the
// backend, so a recipient listed in the file wins over the backend's entry
// with the same address. With a nil backend it returns file itself.
func Combine(file *Memory, backend Directory) Directory {
	if backend == nil {
		return file
	}
	return &combined{file: file, backend: backend}
}

type combined struct {
	file    *Memory
	backend Directory
}

func (c *combined) Lookup(a address.Address) *Entry {
	e, _ := c.Find(a)
	return e
}

func (c *combined) Find(a address.Address) (*Entry, error) {
	if e := c.file.Lookup(a); e != nil {
		return e, nil
	}
	return c.backend.Find(a)
}

func (c *combined) Entries() []*Entry {
	var out []*Entry
	if c.Walk(func(e *Entry) bool { out = append(out, e); return true }) != nil {
		return nil
	}
	return out
}

func (c *combined) Walk(f func(*Entry) bool) error {
	more := true
	c.file.Walk(func(e *Entry) bool { more = f(e); return more })
	if !more {
		return nil
	}
	return c.backend.Walk(f)
}

func (c *combined) Types() ([]string, string, error) {
	bt, _, err := c.backend.Types()
	if err != nil {
		return c.file.types, c.file.version, err
	}
	set := map[string]bool{}
	for _, t := range c.file.types {
		set[t] = true
	}
	for _, t := range bt {
		set[t] = true
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out, TypesVersion(out), nil
}

func (c *combined) EachWithType(typ string, f func(*Entry) bool) error {
	more := true
	c.file.EachWithType(typ, func(e *Entry) bool { more = f(e); return more })
	if !more {
		return nil
	}
	return c.backend.EachWithType(typ, f)
}

func (c *combined) Authenticate(user, password string) (*Entry, error) {
	if c.file.Lookup(address.Address{Type: "SMTP", Value: user}) != nil {
		return c.file.Authenticate(user, password)
	}
	e, err := c.backend.Authenticate(user, password)
	if err != nil && !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrBadCredentials) {
		return nil, errors.Join(ErrUnavailable, err)
	}
	return e, err
}
