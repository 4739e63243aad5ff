package addrspace

import (
	"strconv"
	"strings"

	"github.com/waypost/waypost/internal/address"
)

// witnessTries bounds the search for an address that avoid does not reject.
const witnessTries = 1000

// Witness returns an address of the space's type that the space matches and
// avoid rejects not (avoid may be nil), for the address-type computation
// (interfaces.md §4: a type is listed if some address of it can be
// delivered). It tries, in turn:
//   - SMTP: w@domain, w1@domain, ... where domain is the exact domain, the
//     suffix of "*.suffix", or witness.invalid (RFC 2606) for "*";
//   - X400: the space's own attributes, then with s= (or g=, cn=, i=, q=,
//     whichever the space lacks) set to w, w1, ...;
//   - others: the pattern with every "*" replaced by "", then "0", "1", ...;
//     a pattern without "*" is its own only witness.
//
// ok is false when every candidate is avoided (so also for an invalid
// pattern, or after witnessTries candidates).
func (s Space) Witness(avoid func(address.Address) bool) (address.Address, bool) {
	m := s.matcher()
	if m == nil {
		return address.Address{}, false
	}
	typ := strings.ToUpper(s.Type)
	try := func(v string) bool {
		return avoid == nil || !avoid(address.Address{Type: typ, Value: v})
	}
	switch m.kind {
	case smtpAny, smtpExact, smtpSuffix:
		d := m.domain
		if m.kind == smtpAny {
			d = "witness.invalid"
		}
		for i := 0; i < witnessTries; i++ {
			if v := "w" + seq(i) + "@" + d; try(v) {
				return address.Address{Type: typ, Value: v}, true
			}
		}
	case x400:
		x := make(address.X400, len(m.attrs), len(m.attrs)+1)
		copy(x, m.attrs)
		if try(x.String()) {
			return address.Address{Type: typ, Value: x.String()}, true
		}
		key := ""
		for _, k := range []string{"s", "g", "cn", "i", "q"} {
			if _, has := x.Get(k); !has {
				key = k
				break
			}
		}
		if key == "" {
			break
		}
		x = append(x, address.X400Attr{Key: key})
		for i := 0; i < witnessTries; i++ {
			x[len(x)-1].Value = "w" + seq(i)
			if v := x.String(); try(v) {
				return address.Address{Type: typ, Value: v}, true
			}
		}
	default:
		if len(m.parts) == 1 {
			if try(s.Pattern) {
				return address.Address{Type: typ, Value: s.Pattern}, true
			}
			break
		}
		for i := 0; i < witnessTries; i++ {
			fill := ""
			if i > 0 {
				fill = strconv.Itoa(i - 1)
			}
			v := strings.ReplaceAll(s.Pattern, "*", fill)
			if v != "" && v == strings.TrimSpace(v) && try(v) {
				return address.Address{Type: typ, Value: v}, true
			}
		}
	}
	return address.Address{}, false
}

// seq is "", "1", "2", ... for local parts w, w1, w2, ...
func seq(i int) string {
	if i == 0 {
		return ""
	}
	return strconv.Itoa(i)
}
