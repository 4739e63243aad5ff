package address

import (
	"strconv"
	"strings"
)

// isSpace reports ASCII white space. Only ASCII blanks are trimmed around
// addresses, so other Unicode spaces stay part of what was written.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// trimRange narrows in[lo:hi] to exclude leading and trailing ASCII white space.
func trimRange(in string, lo, hi int) (int, int) {
	for lo < hi && isSpace(in[lo]) {
		lo++
	}
	for hi > lo && isSpace(in[hi-1]) {
		hi--
	}
	return lo, hi
}

func trim(s string) string {
	lo, hi := trimRange(s, 0, len(s))
	return s[lo:hi]
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// hasPrefixFold reports whether s begins with the ASCII prefix p, ignoring case.
func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}

// fold case-folds a value for comparison keys.
func fold(s string) string { return strings.ToLower(s) }

// quote writes s in Go syntax for messages.
func quote(s string) string { return strconv.Quote(s) }
