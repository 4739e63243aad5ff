package report

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeXtext decodes RFC 3461 section 4 xtext: "+" and two upper-case hex
// digits stand for one byte. ok is false, and s comes back as it is,
// unless s is valid xtext with at least one escape whose decoding is
// printable ASCII (section 4.2 allows nothing else): "bob+tag@x" is an
// address, "bob+2Btag@x" the xtext of "bob+tag@x".
func decodeXtext(s string) (string, bool) {
	var b strings.Builder
	escaped := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) || !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) {
				return s, false
			}
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if n < 0x20 || n > 0x7e {
				return s, false
			}
			b.WriteByte(byte(n))
			i += 2
			escaped = true
		case c < '!' || c > '~' || c == '=':
			return s, false
		default:
			b.WriteByte(c)
		}
	}
	if !escaped {
		return s, false
	}
	return b.String(), true
}

// encodeXtext is the xtext of s: every byte outside "!".."~", and "+" and
// "=", as "+HH".
func encodeXtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '!' || c > '~' || c == '+' || c == '=' {
			b.WriteString("+" + strings.ToUpper(strconv.FormatUint(uint64(c)|0x100, 16)[1:]))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

// decodeUnitext turns the \x{HEX} escapes of a utf-8 address (RFC 6533
// section 3, EmbeddedUnicodeChar) into the characters they stand for; an
// escape that is not a Unicode scalar value stays as written.
func decodeUnitext(s string) string {
	if !strings.Contains(s, `\x{`) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, `\x{`)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexByte(s[:min(len(s), 10)], '}') // at most six digits
		hex := ""
		if end > 3 {
			hex = s[3:end]
		}
		n, err := strconv.ParseUint(hex, 16, 32)
		if len(hex) < 2 || len(hex) > 6 || err != nil || !utf8.ValidRune(rune(n)) {
			b.WriteString(`\x{`)
			s = s[3:]
			continue
		}
		b.WriteRune(rune(n))
		s = s[end+1:]
	}
}
