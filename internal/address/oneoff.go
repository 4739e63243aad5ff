package address

import (
	"strings"
	"unicode/utf8"
)

// ParseOneOff parses a MAPI one-off address "Display name[TYPE:address]"
// (exchange-semantics §3.4). The display name is optional (Display is then
// ""); the type is required and returned upper case; the address is required.
// Both may contain blanks and are trimmed. Inside them "\\" stands for a
// backslash and "\xHH" for the byte 0xHH; any other backslash is kept as
// written (MAPI passes a lone "\i" through). Only white space may follow the
// closing ']': anything else gives an error wrapping ErrNotOneOff.
func ParseOneOff(s string) (Address, error) {
	lo, hi := trimRange(s, 0, len(s))
	return parseOneOff(s, lo, hi)
}

func parseOneOff(in string, lo, hi int) (Address, error) {
	const hint = "write Display Name[TYPE:address], e.g. [FAX:+1 555 0100]"
	open := scanTo(in, lo, hi, '[')
	if open < 0 {
		return Address{}, &Error{Input: in, Pos: -1, Msg: "no '[' before the address type", Hint: hint, Err: ErrNotOneOff}
	}
	j := open + 1
	for j < hi && (isAlnum(in[j]) || in[j] == '-') {
		j++
	}
	switch {
	case j == hi:
		return Address{}, &Error{Input: in, Pos: -1, Msg: "missing ':' and ']' after the address type", Hint: hint, Err: ErrNotOneOff}
	case in[j] == ']':
		return Address{}, &Error{Input: in, Pos: j, Msg: "missing ':' between the address type and the address", Hint: hint, Err: ErrNotOneOff}
	case in[j] != ':':
		return Address{}, badChar(in, j, "an address type", "a type is a letter or digit followed by letters, digits and '-', then ':'")
	}
	if e := checkType(in, open+1, j); e != nil {
		return Address{}, e
	}
	end := scanTo(in, j+1, hi, ']')
	if end < 0 {
		return Address{}, &Error{Input: in, Pos: -1, Msg: "missing ']' after the address", Hint: hint, Err: ErrNotOneOff}
	}
	if rest, _ := trimRange(in, end+1, hi); rest < hi {
		return Address{}, &Error{Input: in, Pos: rest, Msg: "unexpected " + char(in, rest) + " after ']'",
			Hint: "only blanks may follow the ']' of a one-off address", Err: ErrNotOneOff}
	}
	vlo, vhi := trimRange(in, j+1, end)
	if vlo == vhi {
		return Address{}, errAt(in, j, "", "empty address after ':'")
	}
	dlo, dhi := trimRange(in, lo, open)
	a := Address{
		Type:    strings.ToUpper(in[open+1 : j]),
		Value:   unquoteOneOff(in[vlo:vhi]),
		Display: unquoteOneOff(in[dlo:dhi]),
	}
	if a.Value == in[vlo:vhi] {
		if e := checkValue(a.Type, in, vlo, vhi); e != nil {
			return Address{}, e
		}
	} else if e := checkValue(a.Type, a.Value, 0, len(a.Value)); e != nil {
		return Address{}, &Error{Input: in, Pos: vlo, Msg: "invalid " + a.Type + " address " + quote(a.Value) + ": " + e.Error(), Err: e.Err}
	}
	return a, nil
}

// scanTo returns the index of the first c in in[lo:hi] that is not part of a
// "\\" pair, or -1. ("\xHH" needs no care: its text holds no brackets.)
func scanTo(in string, lo, hi int, c byte) int {
	for i := lo; i < hi; i++ {
		switch in[i] {
		case c:
			return i
		case '\\':
			if i+1 < hi && in[i+1] == '\\' {
				i++
			}
		}
	}
	return -1
}

// unquoteOneOff decodes "\\" and "\xHH"; other backslashes stay.
func unquoteOneOff(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			switch {
			case i+1 < len(s) && s[i+1] == '\\':
				i++
			case i+3 < len(s) && s[i+1] == 'x' && isHex(s[i+2]) && isHex(s[i+3]):
				c = unhex(s[i+2])<<4 | unhex(s[i+3])
				i += 3
			}
		}
		b = append(b, c)
	}
	return string(b)
}

// FormatOneOff writes a as a one-off address, the inverse of ParseOneOff:
// "\" becomes "\\"; "[", "]", control characters, bytes that are not UTF-8
// and blanks at either end of the display name or address become "\xHH".
// The display name is left out when empty.
func FormatOneOff(a Address) string {
	var b strings.Builder
	b.Grow(len(a.Display) + len(a.Type) + len(a.Value) + 3)
	quoteOneOff(&b, a.Display)
	b.WriteByte('[')
	b.WriteString(a.Type)
	b.WriteByte(':')
	quoteOneOff(&b, a.Value)
	b.WriteByte(']')
	return b.String()
}

func quoteOneOff(b *strings.Builder, s string) {
	const hexdig = "0123456789abcdef"
	lead := 0
	for lead < len(s) && s[lead] == ' ' {
		lead++
	}
	tail := len(s)
	for tail > lead && s[tail-1] == ' ' {
		tail--
	}
	for i := 0; i < len(s); {
		c := s[i]
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c < 0x20 || c == 0x7f || c == '[' || c == ']' || r == utf8.RuneError && n == 1 ||
			c == ' ' && (i < lead || i >= tail):
			b.WriteString(`\x`)
			b.WriteByte(hexdig[c>>4])
			b.WriteByte(hexdig[c&15])
			n = 1
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
}
