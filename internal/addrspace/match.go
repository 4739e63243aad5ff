package addrspace

import (
	"strings"

	"github.com/waypost/waypost/internal/address"
)

// Specificities of SMTP matches (exchange-semantics §1.3 [R] 4): an exact
// domain beats every "*.suffix", which score 1 + the suffix length, which
// beat "*" (0).
const specExact = 1 << 16

// Match reports whether the space covers a and how specific the match is;
// specificities compare only between spaces of the same type, higher is more
// specific (exchange-semantics §1.3 [R]). Types compare case-insensitively.
//   - SMTP, on the domain of a, case-insensitively: exact domain > "*.suffix"
//     (longer suffix more specific; "*.contoso.com" also matches contoso.com,
//     §1.2) > "*".
//   - X400: every attribute of the space equals the recipient's, trimmed and
//     case-insensitively; an attribute the recipient lacks counts as blank, as
//     Exchange reads a blank ADMD ("a= "); specificity = number of attributes.
//   - Others: the pattern is literal text in which "*" matches any run,
//     case-insensitively; specificity = number of literal characters.
//
// A Space from Parse matches SMTP without allocating. To match one address
// against many spaces, Prepare it once and use MatchPrepared.
func (s Space) Match(a address.Address) (specificity int, ok bool) {
	p := Prepare(a)
	return s.MatchPrepared(&p)
}

// Prepared is an address made ready for matching: its X.400 attributes
// parsed and its text lower-cased once, whatever the number of spaces.
type Prepared struct {
	a      address.Address
	domain string       // SMTP: the part after the last '@'
	x400   address.X400 // X400: parsed attributes (nil when unparsable)
	x400ok bool
	lower  string // others: lower-cased value
}

// Prepare readies a for MatchPrepared.
func Prepare(a address.Address) Prepared {
	p := Prepared{a: a}
	switch {
	case asciiEqualFold(a.Type, "SMTP"):
		if at := strings.LastIndexByte(a.Value, '@'); at >= 0 {
			p.domain = a.Value[at+1:]
		}
	case asciiEqualFold(a.Type, "X400"):
		x, err := address.ParseX400(a.Value)
		p.x400, p.x400ok = x.Canonical(), err == nil
	default:
		p.lower = strings.ToLower(a.Value)
	}
	return p
}

// MatchPrepared is Match for a prepared address.
func (s Space) MatchPrepared(p *Prepared) (specificity int, ok bool) {
	m := s.matcher()
	if m == nil || !asciiEqualFold(p.a.Type, s.Type) {
		return 0, false
	}
	switch m.kind {
	case smtpAny, smtpExact, smtpSuffix:
		if !strings.Contains(p.a.Value, "@") {
			return 0, false
		}
		return m.matchDomain(p.domain)
	case x400:
		if !p.x400ok {
			return 0, false
		}
		for _, want := range m.canon {
			got := ""
			for _, have := range p.x400 {
				if have.Key == want.Key {
					got = have.Value
					break
				}
			}
			if got != want.Value {
				return 0, false
			}
		}
		return len(m.canon), true
	default:
		if !glob(m.parts, p.lower) {
			return 0, false
		}
		return m.literals, true
	}
}

// matcher returns the compiled pattern, compiling it now if s was not made
// by Parse or was changed since; nil if the pattern is invalid.
func (s Space) matcher() *matcher {
	if s.m != nil && s.m.typ == s.Type && s.m.pattern == s.Pattern {
		return s.m
	}
	m, err := compile(s.Type, s.Pattern)
	if err != nil {
		return nil
	}
	return m
}

func (m *matcher) matchDomain(d string) (int, bool) {
	switch m.kind {
	case smtpAny:
		return 0, true
	case smtpExact:
		return specExact, asciiEqualFold(d, m.domain)
	}
	n := len(m.domain)
	if asciiEqualFold(d, m.domain) ||
		len(d) > n && d[len(d)-n-1] == '.' && asciiEqualFold(d[len(d)-n:], m.domain) {
		return 1 + n, true
	}
	return 0, false
}

// glob matches v against the literal parts of a pattern split at '*'.
func glob(parts []string, v string) bool {
	if len(parts) == 1 {
		return v == parts[0]
	}
	if !strings.HasPrefix(v, parts[0]) {
		return false
	}
	v = v[len(parts[0]):]
	last := len(parts) - 1
	for _, p := range parts[1:last] {
		i := strings.Index(v, p)
		if i < 0 {
			return false
		}
		v = v[i+len(p):]
	}
	return strings.HasSuffix(v, parts[last])
}

// asciiEqualFold compares folding only ASCII letters, so that no non-ASCII
// character (such as the Kelvin sign) ever equals an ASCII pattern.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
