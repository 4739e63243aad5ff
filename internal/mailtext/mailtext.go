// Package mailtext makes text that comes from outside (a message, a
// remote server, a directory, a file) safe to write on one line: of a
// header field (RFC 5322 section 2.2: a field body has no CR or LF), of an
// SMTP reply (RFC 5321 section 4.2) or of a log. It also makes the random
// tokens of Message-IDs (RFC 5322 section 3.6.4) and MIME boundaries
// (RFC 2046 section 5.1.1). Reports, the client, pickup, the receive side,
// the SMTP client and the LDAP directory use it.
package mailtext

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// OneLine is s with every control character (CR and LF among them) and
// DEL as a space, so that no text can add a field or a line.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Printable is s cut at max bytes, with every control character and DEL
// as "?": for a reply line or a log, where the reader should see that
// something was there.
func Printable(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// PrintableASCII is s cut at max bytes, with every byte outside printable
// US-ASCII as "?": for an error message quoting a line of a protocol that
// is ASCII (an SMTP reply, RFC 5321 section 4.2).
func PrintableASCII(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	b := []byte(s)
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = '?'
		}
	}
	return string(b)
}

// RandomHex is n random bytes (crypto/rand) in lower-case hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24)
	return hex.EncodeToString(b)
}
