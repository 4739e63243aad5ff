package address

import (
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// maxLocal is Exchange's limit on the name part, 315 octets
	// (exchange-semantics §3.3: "the name part of the address exceeds 315
	// characters" is unsupported). RFC 5321 §4.5.3.1.1 says 64; IMCEA needs more.
	maxLocal = 315
	// maxDomain is RFC 5321 §4.5.3.1.2 (255 octets); maxLabel is RFC 1035 §2.3.4.
	maxDomain = 255
	maxLabel  = 63
)

// ParseSMTP parses one SMTP recipient as people write it (RFC 5322 §3.4):
// "alice@x", "<alice@x>", "\"Alice\" <alice@x>" or "Alice <alice@x>".
// It returns the display name ("" if none; a quoted one is unquoted) and the
// addr-spec local@domain as written. The local part is a dot-atom or a quoted
// string (RFC 5321 §4.1.2) and may hold UTF-8 (RFC 6531 §3.3); the domain is
// labels (U-labels allowed) or an address literal [1.2.3.4] / [IPv6:...]
// (RFC 5321 §4.1.3). Comments are not supported.
func ParseSMTP(s string) (display, addr string, err error) {
	lo, hi := trimRange(s, 0, len(s))
	return parseSMTP(s, lo, hi)
}

func parseSMTP(in string, lo, hi int) (display, addr string, err error) {
	if lo == hi {
		return "", "", errAt(in, -1, "", "empty address")
	}
	if in[hi-1] != '>' {
		if in[lo] == '<' {
			return "", "", errAt(in, hi, "close the address with '>'", "missing '>' after the address")
		}
		if e := checkAddrSpec(in, lo, hi); e != nil {
			return "", "", e
		}
		return "", in[lo:hi], nil
	}
	// name-addr: [display-name] "<" addr-spec ">"
	lt := -1
	if in[lo] == '"' {
		end, e := scanQuoted(in, lo, hi, "the display name")
		if e != nil {
			return "", "", e
		}
		display = unquotePairs(in[lo+1 : end-1])
		i, _ := trimRange(in, end, hi)
		if in[i] != '<' {
			return "", "", errAt(in, i, "write \"Display Name\" <local@domain>", "unexpected %s after the quoted display name", char(in, i))
		}
		lt = i
	} else {
		lt = strings.IndexByte(in[lo:hi], '<')
		if lt < 0 {
			return "", "", errAt(in, hi-1, "write Display Name <local@domain>", "'>' without '<'")
		}
		lt += lo
		dlo, dhi := trimRange(in, lo, lt)
		for i := dlo; i < dhi; {
			r, n := utf8.DecodeRuneInString(in[i:dhi])
			switch {
			case r == utf8.RuneError && n == 1:
				return "", "", badChar(in, i, "a display name", "the text is not valid UTF-8")
			case r == '"' || r == '>':
				return "", "", badChar(in, i, "an unquoted display name", `put the display name in double quotes: "Name" <local@domain>`)
			case r < 0x20 || r == 0x7f:
				return "", "", badChar(in, i, "a display name", "")
			}
			i += n
		}
		display = in[dlo:dhi]
	}
	alo, ahi := trimRange(in, lt+1, hi-1)
	if alo == ahi {
		return "", "", errAt(in, lt, "write <local@domain>", "empty address between '<' and '>'")
	}
	if e := checkAddrSpec(in, alo, ahi); e != nil {
		return "", "", e
	}
	return display, in[alo:ahi], nil
}

// isAtext reports RFC 5322 §3.2.3 ASCII atext.
func isAtext(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// checkAddrSpec validates in[lo:hi] as local-part "@" domain (RFC 5321 §4.1.2).
func checkAddrSpec(in string, lo, hi int) *Error {
	if lo == hi {
		return errAt(in, -1, "", "empty address")
	}
	var i int
	if in[lo] == '"' {
		end, e := scanQuoted(in, lo, hi, "the quoted local part")
		if e != nil {
			return e
		}
		i = end
		if i < hi && in[i] != '@' {
			return errAt(in, i, "", "unexpected %s after the quoted local part (expected '@')", char(in, i))
		}
	} else {
		var e *Error
		if i, e = scanDotAtom(in, lo, hi); e != nil {
			return e
		}
	}
	if i >= hi {
		return errAt(in, -1, "write local@domain", "missing '@' and domain")
	}
	if i == lo {
		return errAt(in, i, "write local@domain", "empty local part before '@'")
	}
	if i-lo > maxLocal {
		return errAt(in, lo, "", "local part is %d octets long; the limit is %d", i-lo, maxLocal)
	}
	if i+1 == hi {
		return errAt(in, i, "write local@domain", "missing domain after '@'")
	}
	if in[i+1] == '[' {
		return checkLiteral(in, i+1, hi)
	}
	return checkDomain(in, i+1, hi)
}

// scanDotAtom scans a dot-atom local part (RFC 5322 §3.2.3, RFC 6532 §3.2
// UTF-8) from lo and returns the index of the '@' ending it, or hi.
func scanDotAtom(in string, lo, hi int) (int, *Error) {
	const where = "the local part"
	i := lo
	for i < hi {
		c := in[i]
		switch {
		case c == '@':
			if i > lo && in[i-1] == '.' {
				return 0, errAt(in, i-1, "", "local part ends with '.'")
			}
			return i, nil
		case c == '.':
			if i == lo {
				return 0, errAt(in, i, "", "local part begins with '.'")
			}
			if in[i-1] == '.' {
				return 0, errAt(in, i, "", "two '.' in a row in the local part")
			}
			i++
		case isAtext(c):
			i++
		case c >= 0x80:
			r, n := utf8.DecodeRuneInString(in[i:hi])
			if r == utf8.RuneError && n == 1 || r >= 0x80 && r < 0xa0 {
				return 0, badChar(in, i, where, "")
			}
			i += n
		default:
			return 0, badChar(in, i, where, `quote a local part with such characters: "john smith"@example.com`)
		}
	}
	return i, nil
}

// scanQuoted scans an RFC 5322 §3.2.4 quoted-string starting at in[lo]=='"'
// and returns the index after the closing quote.
func scanQuoted(in string, lo, hi int, where string) (int, *Error) {
	for i := lo + 1; i < hi; {
		c := in[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= hi {
				return 0, errAt(in, i, "", "'\\' at the end of %s", where)
			}
			i++
			fallthrough
		default:
			r, n := utf8.DecodeRuneInString(in[i:hi])
			if r == utf8.RuneError && n == 1 || r < 0x20 && r != '\t' || r == 0x7f {
				return 0, badChar(in, i, where, "")
			}
			i += n
		}
	}
	return 0, errAt(in, lo, "", "missing closing '\"' for the quoted text that starts")
}

// unquotePairs removes the backslashes of quoted-pairs.
func unquotePairs(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// checkLiteral validates an address literal in[lo:hi] = "[" ... "]"
// (RFC 5321 §4.1.3: IPv4 or "IPv6:" address).
func checkLiteral(in string, lo, hi int) *Error {
	if in[hi-1] != ']' {
		return errAt(in, hi, "", "missing ']' after the address literal")
	}
	body := in[lo+1 : hi-1]
	v6 := hasPrefixFold(body, "IPv6:")
	if v6 {
		body = body[5:]
	}
	ip, err := netip.ParseAddr(body)
	if err != nil || ip.Zone() != "" || v6 != ip.Is6() {
		return errAt(in, lo, "write [192.0.2.1] or [IPv6:2001:db8::1]", "invalid address literal %s", in[lo:hi])
	}
	return nil
}

// CheckDomain reports whether d is a domain name: dot-separated labels of
// letters, digits and '-' (not first or last), 1-63 octets each, at most 255 in
// all (RFC 1035 §2.3.1, RFC 5321 §4.1.2, RFC 5890 U-labels allowed). The
// error's Pos is an offset into d.
func CheckDomain(d string) error {
	if d == "" {
		return errAt(d, -1, "", "empty domain")
	}
	if err := checkDomain(d, 0, len(d)); err != nil {
		return err
	}
	return nil
}

func checkDomain(in string, lo, hi int) *Error {
	if hi-lo > maxDomain {
		return errAt(in, lo, "", "domain is %d octets long; the limit is %d", hi-lo, maxDomain)
	}
	const where = "a domain"
	start := lo
	for i := lo; i <= hi; {
		if i == hi || in[i] == '.' {
			switch {
			case i == start && i == hi:
				return errAt(in, i-1, "remove the final '.'", "domain ends with '.'")
			case i == start:
				return errAt(in, i, "", "empty label in the domain ('.' at its start or two in a row)")
			case i-start > maxLabel:
				return errAt(in, start, "", "domain label is %d octets long; the limit is %d", i-start, maxLabel)
			case in[start] == '-':
				return errAt(in, start, "", "domain label begins with '-'")
			case in[i-1] == '-':
				return errAt(in, i-1, "", "domain label ends with '-'")
			}
			i++
			start = i
			continue
		}
		c := in[i]
		switch {
		case isAlnum(c) || c == '-':
			i++
		case c >= 0x80:
			r, n := utf8.DecodeRuneInString(in[i:hi])
			if r == utf8.RuneError && n == 1 || !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) {
				return badChar(in, i, where, "")
			}
			i += n
		default:
			return badChar(in, i, where, "a domain is labels of letters, digits and '-' separated by '.'")
		}
	}
	return nil
}
