package addrspace

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/waypost/waypost/internal/address"
)

type kind uint8

const (
	smtpAny    kind = iota // "*"
	smtpExact              // "contoso.com"
	smtpSuffix             // "*.contoso.com"
	x400                   // RFC 1685 attributes
	custom                 // text with "*" wildcards
)

// matcher is a compiled pattern. typ and pattern are what it was compiled
// from, so a Space edited after Parse is noticed.
type matcher struct {
	typ, pattern string
	kind         kind
	domain       string             // SMTP exact or suffix (without "*."), lower case
	attrs        []address.X400Attr // X400: keys lower case as written, values trimmed
	canon        address.X400       // X400: the same in canonical form (address.X400.Canonical)
	parts        []string           // custom: lower-cased literals between the '*'s
	literals     int                // custom: number of literal characters
}

// compile validates pattern for type typ and prepares it for Match.
func compile(typ, pattern string) (*matcher, *Error) {
	m := &matcher{typ: typ, pattern: pattern}
	if !utf8.ValidString(pattern) {
		return nil, &Error{Msg: fmt.Sprintf("address space %q is not valid UTF-8", pattern), Hint: "save the text as UTF-8"}
	}
	switch strings.ToUpper(typ) {
	case "SMTP":
		return m, m.compileSMTP()
	case "X400":
		x, err := address.ParseX400(pattern)
		if err != nil {
			return nil, &Error{Msg: fmt.Sprintf("X400 address space %q: %v", pattern, err),
				Hint: "write RFC 1685 attributes, e.g. X400:o=MySite;p=MyOrg;a=adatum;c=us;1", Err: err}
		}
		m.kind = x400
		for i, a := range x {
			if _, dup := x[:i].Get(a.Key); dup {
				return nil, &Error{Msg: fmt.Sprintf("X400 address space %q gives attribute %q twice", pattern, a.Key),
					Hint: "give each attribute once (ADMD is a, PRMD is p)"}
			}
			m.attrs = append(m.attrs, address.X400Attr{Key: a.Key, Value: strings.TrimSpace(a.Value)})
		}
		m.canon = address.X400(m.attrs).Canonical()
		return m, nil
	}
	m.kind = custom
	m.parts = strings.Split(strings.ToLower(pattern), "*")
	for _, p := range m.parts {
		m.literals += len([]rune(p))
	}
	return m, nil
}

// compileSMTP checks an SMTP address space (exchange-semantics §1.2): "*",
// a domain, or "*." and a domain; "--" is Edge-only. Domains are RFC 1035
// (ASCII letters, digits, '-').
func (m *matcher) compileSMTP() *Error {
	p := m.pattern
	switch {
	case p == "*":
		m.kind = smtpAny
		return nil
	case p == "--":
		return &Error{Msg: `"--" is for Edge Transport servers only (mail to the accepted domains)`,
			Hint: `on a hub write "*" or a domain such as "contoso.com"`}
	case strings.HasPrefix(p, "*."):
		m.kind, p = smtpSuffix, p[2:]
	default:
		m.kind = smtpExact
	}
	if i := strings.IndexByte(p, '*'); i >= 0 {
		fix := strings.Trim(strings.ReplaceAll(m.pattern, "*", ""), ".")
		return &Error{Msg: fmt.Sprintf("wildcard in SMTP address space %q is not a whole leading label", m.pattern),
			Hint: fmt.Sprintf("write %q for the domain and all its subdomains, or %q for the domain alone", "*."+fix, fix)}
	}
	for i := 0; i < len(p); i++ {
		if p[i] >= 0x80 {
			return &Error{Msg: fmt.Sprintf("SMTP address space %q is not an RFC 1035 domain (non-ASCII character)", m.pattern),
				Hint: "write the domain in its A-label (xn--) form"}
		}
	}
	if err := address.CheckDomain(p); err != nil {
		return &Error{Msg: fmt.Sprintf("SMTP address space %q is not an RFC 1035 domain: %v", m.pattern, err),
			Hint: `write "*", "contoso.com" or "*.contoso.com"`, Err: err}
	}
	m.domain = strings.ToLower(p)
	return nil
}
