package address

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

var (
	// ErrRefusedEncapsulation marks an IMCEASMTP or IMCEAX500 address at an
	// authoritative domain: Exchange recipient resolution rejects both
	// (exchange-semantics §3.3); routing answers NDR 5.1.0.
	ErrRefusedEncapsulation = errors.New("IMCEA encapsulation of SMTP and X500 addresses is refused")
	// ErrNotOneOff marks text that is not a one-off address (exchange-semantics §3.4).
	ErrNotOneOff = errors.New("not a one-off address")
	// ErrNotIMCEA marks an address whose elements 1-3 ("IMCEA" type "-") do not
	// match ([MS-OXCMAIL] §2.2.3.1.2).
	ErrNotIMCEA = errors.New("not an IMCEA-encapsulated address")
)

// Error is a syntax error in an address: what is wrong and where.
type Error struct {
	Input string // the text that was parsed
	Pos   int    // byte offset in Input of the offending character, -1 if none
	Msg   string // what is wrong, naming the character when there is one
	Hint  string // what to write instead, "" if nothing useful to say
	Err   error  // ErrNotOneOff, ErrNotIMCEA, ErrRefusedEncapsulation or nil
}

// Error returns Msg, then " at position N" (characters counted from 1) when
// Pos is set, then the hint.
func (e *Error) Error() string {
	s := e.Msg
	if e.Pos >= 0 && e.Pos <= len(e.Input) {
		s += fmt.Sprintf(" at position %d", utf8.RuneCountInString(e.Input[:e.Pos])+1)
	}
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// Unwrap returns the sentinel the error wraps, if any.
func (e *Error) Unwrap() error { return e.Err }

// errAt returns an *Error at in[pos] (pos -1: no position).
func errAt(in string, pos int, hint, format string, args ...any) *Error {
	return &Error{Input: in, Pos: pos, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// char names the character at in[pos] for a message: 'x', '\r', or byte 0xff
// for a byte that does not start valid UTF-8.
func char(in string, pos int) string {
	if pos < 0 || pos >= len(in) {
		return "end of text"
	}
	r, n := utf8.DecodeRuneInString(in[pos:])
	if r == utf8.RuneError && n <= 1 {
		return fmt.Sprintf("byte 0x%02x", in[pos])
	}
	return fmt.Sprintf("%q", r)
}

// badChar reports the character at in[pos] as not allowed in where.
func badChar(in string, pos int, where, hint string) *Error {
	return errAt(in, pos, hint, "character %s is not allowed in %s", char(in, pos), where)
}
