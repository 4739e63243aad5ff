package embedded

import (
	"encoding/binary"
	"errors"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/directory"
)

// The value of an entry in the entries bucket:
//
//	format(1) kind(1) name server password_hash
//	count { primary(1) type value }  (proxy addresses)
//	has_target(1) [type value]
//	count { member }
//
// where each string is a uvarint length and its bytes, and count a uvarint.
const codecFormat = 1

var errCorrupt = errors.New("embedded directory: an entry record is damaged")

func encode(e *directory.Entry) []byte {
	n := 3 + len(e.Name) + len(e.Server) + len(e.PasswordHash) + 16
	for _, p := range e.Addresses {
		n += len(p.Type) + len(p.Value) + 6
	}
	for _, m := range e.Members {
		n += len(m) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, codecFormat, kindByte(e.Kind))
	b = appendString(b, e.Name)
	b = appendString(b, e.Server)
	b = appendString(b, e.PasswordHash)
	b = binary.AppendUvarint(b, uint64(len(e.Addresses)))
	for _, p := range e.Addresses {
		if p.Primary {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = appendString(b, p.Type)
		b = appendString(b, p.Value)
	}
	if e.Target != nil {
		b = append(b, 1)
		b = appendString(b, e.Target.Type)
		b = appendString(b, e.Target.Value)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Members)))
	for _, m := range e.Members {
		b = appendString(b, m)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func kindByte(k directory.Kind) byte {
	switch k {
	case directory.Mailbox:
		return 'm'
	case directory.Contact:
		return 'c'
	case directory.Group:
		return 'g'
	}
	return '?'
}

// decode reads an entry; it copies everything out of b (bbolt's memory is
// valid only inside its transaction), into one string that the entry's
// strings share.
func decode(b []byte) (*directory.Entry, error) {
	d := decoder{s: string(b)}
	if d.byte() != codecFormat {
		return nil, errCorrupt
	}
	e := &directory.Entry{}
	switch d.byte() {
	case 'm':
		e.Kind = directory.Mailbox
	case 'c':
		e.Kind = directory.Contact
	case 'g':
		e.Kind = directory.Group
	default:
		return nil, errCorrupt
	}
	e.Name = d.string()
	e.Server = d.string()
	e.PasswordHash = d.string()
	if n := d.count(); n > 0 {
		e.Addresses = make([]directory.Proxy, n)
		for i := range e.Addresses {
			e.Addresses[i].Primary = d.byte() == 1
			e.Addresses[i].Type = d.string()
			e.Addresses[i].Value = d.string()
		}
	}
	if d.byte() == 1 {
		e.Target = &address.Address{Type: d.string(), Value: d.string()}
	}
	if n := d.count(); n > 0 {
		e.Members = make([]string, n)
		for i := range e.Members {
			e.Members[i] = d.string()
		}
	}
	if d.bad {
		return nil, errCorrupt
	}
	return e, nil
}

type decoder struct {
	s   string
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.s) == 0 {
		d.bad = true
		return 0
	}
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if len(d.s) == 0 {
			break
		}
		c := d.s[0]
		d.s = d.s[1:]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	d.bad = true
	return 0
}

func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.s)) { // every element takes at least a byte
		d.bad = true
		return 0
	}
	return int(v)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.s)) {
		d.bad = true
		return ""
	}
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}
