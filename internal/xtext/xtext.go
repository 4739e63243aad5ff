// Package xtext encodes and decodes the forms in which SMTP parameters
// carry addresses and identifiers: RFC 3461 section 4 xtext (ENVID, ORCPT
// and the DSN fields that copy them) and RFC 6533 section 3
// utf-8-addr-xtext and utf-8-addr-unitext (ORCPT=UTF-8 and the
// Original-Recipient of reports). The SMTP client (internal/delivery), the
// receive side (internal/smtpd) and reports (internal/report) all use it.
package xtext

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Encode is the xtext of s (RFC 3461 section 4): every byte outside
// "!".."~", and "+" and "=", as "+" and two upper-case hex digits.
func Encode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '!' || c > '~' || c == '+' || c == '=' {
			fmt.Fprintf(&b, "+%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Decode decodes xtext: "+" and two upper-case hex digits stand for one
// byte. ok is false when s is not xtext (a "+" without two hex digits, an
// "=", a byte outside "!".."~") or when a decoded byte is not printable
// ASCII, which RFC 3461 section 4.2 allows nothing else: so no CR, LF or
// other control reaches a header, a report or a log.
func Decode(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) || !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) {
				return "", false
			}
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if n < 0x20 || n > 0x7e {
				return "", false
			}
			b.WriteByte(byte(n))
			i += 2
		case c < '!' || c > '~' || c == '=':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

// EncodeUTF8Addr encodes s as RFC 6533 section 3 utf-8-addr-xtext: what
// xtext writes as "+XX" is "\x{XX}", and so is "\"; non-ASCII characters
// are written as the hex of their code point.
func EncodeUTF8Addr(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '!' && r <= '~' && r != '+' && r != '=' && r != '\\' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, `\x{%02X}`, r)
		}
	}
	return b.String()
}

// EncodeUTF8Unitext encodes s as RFC 6533 section 3 utf-8-addr-unitext:
// non-ASCII as it is, ASCII as in EncodeUTF8Addr.
func EncodeUTF8Unitext(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r > 0x7f || r >= '!' && r <= '~' && r != '+' && r != '=' && r != '\\' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, `\x{%02X}`, r)
		}
	}
	return b.String()
}

// DecodeUnitext turns the \x{HEX} escapes of a utf-8 address (RFC 6533
// section 3, EmbeddedUnicodeChar) into the characters they stand for; an
// escape that is not a Unicode scalar value stays as written.
func DecodeUnitext(s string) string {
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
