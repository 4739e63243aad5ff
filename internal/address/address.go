package address

import "strings"

// Address is a recipient address of any type.
type Address struct {
	Type    string // upper case: "SMTP", "FAX", "X400", "EX", "X500", "SMS", any token
	Value   string // the address within its type; SMTP is local@domain
	Display string // display name, "" if none
}

// String returns the typed (proxy) form "TYPE:value", e.g. "SMTP:alice@contoso.test".
func (a Address) String() string { return a.Type + ":" + a.Value }

// IsSMTP reports whether a is an SMTP address.
func (a Address) IsSMTP() bool { return strings.EqualFold(a.Type, "SMTP") }

// Domain returns the domain of an SMTP address lower-cased, "" for other types.
func (a Address) Domain() string {
	if !a.IsSMTP() {
		return ""
	}
	at := strings.LastIndexByte(a.Value, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(a.Value[at+1:])
}

// Key returns the normalised lookup key the directory uses: the type upper
// case, ':', and the value normalised for the type. SMTP: the address
// lower-cased. X400: the canonical attribute form (X400.Canonical), or the
// trimmed, case-folded text if it does not parse. FAX: blanks and the written
// separators '-', '.', '(' and ')' removed (RFC 3192 written-sep), case-folded.
// Others: trimmed and case-folded.
func (a Address) Key() string {
	t := strings.ToUpper(trim(a.Type))
	v := trim(a.Value)
	switch t {
	case "X400":
		if x, err := ParseX400(v); err == nil {
			return t + ":" + x.Canonical().String()
		}
	case "FAX":
		v = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '-', '.', '(', ')':
				return -1
			}
			return r
		}, v)
	}
	return t + ":" + fold(v)
}

// Parse parses a recipient in any form of interfaces.md §2, trimmed of
// blanks:
//
//   - SMTP: alice@x, <alice@x>, "Alice" <alice@x>, Alice <alice@x> (ParseSMTP);
//   - one-off: [FAX:+1 555 0100], Legal Fax[FAX:+1 555 0199] (ParseOneOff);
//   - typed: FAX:+1 555 0100, smtp:alice@x (ParseTyped).
//
// Text that is a valid one-off is a one-off even if it also begins with
// "TOKEN:" (as "Attn:Legal[FAX:1]" does), so a typed value ending in
// "[T:v]" must be written as a one-off instead.
//
// When the result is SMTP and isLocal reports its domain (lower case) as an
// authoritative accepted domain (nil isLocal: never), encapsulated local
// parts are decapsulated (exchange-semantics §3.2-3.3, §6.1):
//
//   - IMCEAtype-encoded@local becomes an address of that type; IMCEASMTP and
//     IMCEAX500 give an error wrapping ErrRefusedEncapsulation (NDR 5.1.0);
//   - FAX=+phone@local and /FAX=+phone/T33S=sub/@local (RFC 3192) become
//     FAX addresses whose value is the phone, with "/T33S=sub" appended when
//     there is a sub-address;
//   - a malformed encapsulation (bad "+HH", a type that is not a token, an
//     address invalid for its type) is left as the SMTP address it is.
//
// The display name is kept through decapsulation.
func Parse(s string, isLocal func(domain string) bool) (Address, error) {
	a, err := parseForm(s)
	if err != nil {
		return Address{}, err
	}
	if isLocal != nil && a.IsSMTP() {
		return decapsulate(a, isLocal)
	}
	return a, nil
}

// parseForm picks the form of s by its shape (see Parse).
func parseForm(s string) (Address, error) {
	lo, hi := trimRange(s, 0, len(s))
	if lo == hi {
		return Address{}, errAt(s, -1, "", "empty address")
	}
	first, last := s[lo], s[hi-1]
	if last == '>' || first == '<' || first == '"' && last != ']' {
		d, addr, err := parseSMTP(s, lo, hi)
		if err == nil {
			return Address{Type: "SMTP", Value: addr, Display: d}, nil
		}
		// Not SMTP after all: a typed address may end in '>' ("X:<a>").
		if !isTypePrefix(s, lo, hi) {
			return Address{}, err
		}
		return parseTyped(s, lo, hi)
	}
	smtpErr := checkAddrSpec(s, lo, hi)
	if smtpErr == nil {
		return Address{Type: "SMTP", Value: s[lo:hi]}, nil
	}
	open := scanTo(s, lo, hi, '[')
	literal := open > lo && s[open-1] == '@' // local@[address literal]
	var oneOffErr error
	if open >= 0 && !literal && last == ']' {
		a, err := parseOneOff(s, lo, hi)
		if err == nil {
			return a, nil
		}
		oneOffErr = err
	}
	if isTypePrefix(s, lo, hi) {
		return parseTyped(s, lo, hi)
	}
	if oneOffErr != nil {
		return Address{}, oneOffErr
	}
	if open >= 0 && !literal {
		_, err := parseOneOff(s, lo, hi)
		return Address{}, err
	}
	return Address{}, smtpErr
}

// decapsulate applies the IMCEA and RFC 3192 rules of Parse to an SMTP address.
func decapsulate(a Address, isLocal func(string) bool) (Address, error) {
	at := strings.LastIndexByte(a.Value, '@')
	local, domain := a.Value[:at], a.Value[at+1:]
	if local[0] == '"' || !isLocal(strings.ToLower(domain)) {
		return a, nil
	}
	if typ, _, e := imceaHead(local); e == nil {
		if typ == "SMTP" || typ == "X500" {
			return Address{}, &Error{Input: a.Value, Pos: -1, Err: ErrRefusedEncapsulation,
				Msg:  "IMCEA" + typ + " address at an authoritative domain is refused (NDR 5.1.0)",
				Hint: "address the recipient directly; only non-SMTP types such as FAX, X400 and EX are decapsulated"}
		}
		_, v, _, err := DecodeIMCEA(a.Value)
		if err != nil || checkType(typ, 0, len(typ)) != nil || checkValue(typ, v, 0, len(v)) != nil {
			return a, nil
		}
		return Address{Type: typ, Value: v, Display: a.Display}, nil
	}
	if hasPrefixFold(strings.TrimPrefix(local, "/"), "FAX=") {
		phone, sub, _, err := ParseRFC3192(a.Value)
		if err != nil {
			return a, nil
		}
		if sub != "" {
			phone += "/T33S=" + sub
		}
		return Address{Type: "FAX", Value: phone, Display: a.Display}, nil
	}
	return a, nil
}
