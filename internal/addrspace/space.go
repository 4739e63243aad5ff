package addrspace

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/waypost/waypost/internal/address"
)

// Space is one address space of a send connector.
type Space struct {
	Type    string // upper case
	Pattern string // as written after the type (e.g. "*", "*.contoso.com", "c=US;a=Fabrikam;P=Contoso", "+1 425*")
	Cost    int    // 1..100, default 1
	Scoped  bool   // 2007 RTM "Local:" prefix

	m *matcher // compiled by Parse; Match and Witness compile on the fly without it
}

// Error is an address space that does not parse: what is wrong and what to
// write instead.
type Error struct {
	Input string // the address space as given
	Msg   string
	Hint  string // what to write instead
	Err   error  // the underlying address error, if any
}

func (e *Error) Error() string {
	if e.Hint == "" {
		return e.Msg
	}
	return e.Msg + "; " + e.Hint
}

func (e *Error) Unwrap() error { return e.Err }

// Parse parses "[Local:][Type:]Pattern[;Cost]" (exchange-semantics §1.1). A
// pair of double quotes around the whole text, as in Exchange examples, is
// removed. Without a type the space is SMTP. The cost is 1-100, default 1;
// for SMTP it follows the last ';', and a non-SMTP space whose pattern holds
// ';' must end with ";<cost>" (§1.1: "you must specify the address space
// cost"). "Local:" (Exchange 2007 RTM scope) sets Scoped, so no type can be
// named LOCAL.
func Parse(s string) (Space, error) {
	t := strings.TrimSpace(s)
	if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' {
		t = strings.TrimSpace(t[1 : len(t)-1])
	}
	fail := func(hint, format string, args ...any) (Space, error) {
		return Space{}, &Error{Input: s, Msg: fmt.Sprintf(format, args...), Hint: hint}
	}
	var sp Space
	if len(t) >= 6 && strings.EqualFold(t[:6], "Local:") {
		sp.Scoped = true
		t = t[6:]
	}
	sp.Type = "SMTP"
	if i := strings.IndexByte(t, ':'); i >= 0 {
		if err := address.CheckType(t[:i]); err != nil {
			return Space{}, &Error{Input: s, Msg: fmt.Sprintf("address space type %q: %v", t[:i], err),
				Hint: `write TYPE:pattern;cost, e.g. "SMTP:*.contoso.com;1" or "FAX:*;1"`, Err: err}
		}
		sp.Type = strings.ToUpper(t[:i])
		t = t[i+1:]
	}
	sp.Cost = 1
	if semi := strings.LastIndexByte(t, ';'); semi >= 0 {
		c := strings.TrimSpace(t[semi+1:])
		if !isDigits(c) {
			if sp.Type != "SMTP" {
				return fail(fmt.Sprintf("end it with the cost, e.g. %q", sp.Type+":"+t+";1"),
					"%s address spaces that contain ';' must end with ';<cost>' (%q is not a cost)", sp.Type, c)
			}
			return fail(fmt.Sprintf("write the cost as a number from 1 to 100, e.g. %q", t[:semi]+";1"),
				"cost %q is not a whole number", c)
		}
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > 100 {
			return fail("the cost is 1 (best) to 100", "cost %s is out of range", c)
		}
		sp.Cost = n
		t = t[:semi]
	}
	sp.Pattern = strings.TrimSpace(t)
	if sp.Pattern == "" {
		return fail(fmt.Sprintf(`write a pattern after the type, e.g. "%s:*;1"`, sp.Type), "empty %s address space", sp.Type)
	}
	m, err := compile(sp.Type, sp.Pattern)
	if err != nil {
		err.Input = s
		return Space{}, err
	}
	sp.m = m
	return sp, nil
}

// String returns the canonical form "TYPE:pattern;cost", with "Local:" in
// front when Scoped. Parse(s.String()) equals s. A zero cost is written 1.
func (s Space) String() string {
	cost := s.Cost
	if cost == 0 {
		cost = 1
	}
	p := ""
	if s.Scoped {
		p = "Local:"
	}
	return p + s.Type + ":" + s.Pattern + ";" + strconv.Itoa(cost)
}

// Equal reports whether s and t are the same address space (the compiled
// matcher is not compared).
func (s Space) Equal(t Space) bool {
	return s.Type == t.Type && s.Pattern == t.Pattern && s.Cost == t.Cost && s.Scoped == t.Scoped
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
