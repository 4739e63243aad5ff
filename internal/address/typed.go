package address

import "strings"

// CheckType reports whether t is an address type token: a letter or digit,
// then letters, digits and '-' (interfaces.md §2: "FAX", "X400", "EX", any
// token). The error's Pos is an offset into t.
func CheckType(t string) error {
	if err := checkType(t, 0, len(t)); err != nil {
		return err
	}
	return nil
}

func checkType(in string, lo, hi int) *Error {
	if lo == hi {
		return errAt(in, lo, "write TYPE:address, e.g. FAX:+1 555 0100", "missing address type")
	}
	for i := lo; i < hi; i++ {
		c := in[i]
		if !isAlnum(c) && (c != '-' || i == lo) {
			return badChar(in, i, "an address type", "a type is a letter or digit followed by letters, digits and '-'")
		}
	}
	return nil
}

// isTypePrefix reports whether in[lo:hi] begins with "TOKEN:".
func isTypePrefix(in string, lo, hi int) bool {
	i := strings.IndexByte(in[lo:hi], ':')
	return i > 0 && checkType(in, lo, lo+i) == nil
}

// ParseTyped parses the typed (proxy address) form "TYPE:address", e.g.
// "FAX:+1 555 0100" or "smtp:alice@contoso.test" (interfaces.md §2). The type
// is returned upper case; the address is trimmed and must not be empty. SMTP
// addresses must be valid addr-specs and X400 addresses valid RFC 1685 text.
func ParseTyped(s string) (Address, error) {
	lo, hi := trimRange(s, 0, len(s))
	return parseTyped(s, lo, hi)
}

func parseTyped(in string, lo, hi int) (Address, error) {
	colon := strings.IndexByte(in[lo:hi], ':')
	if colon < 0 {
		return Address{}, errAt(in, -1, "write TYPE:address, e.g. FAX:+1 555 0100", "missing ':' after the address type")
	}
	colon += lo
	if err := checkType(in, lo, colon); err != nil {
		return Address{}, err
	}
	vlo, vhi := trimRange(in, colon+1, hi)
	if vlo == vhi {
		return Address{}, errAt(in, colon, "", "empty address after ':'")
	}
	a := Address{Type: strings.ToUpper(in[lo:colon]), Value: in[vlo:vhi]}
	if err := checkValue(a.Type, in, vlo, vhi); err != nil {
		return Address{}, err
	}
	return a, nil
}

// checkValue validates in[lo:hi] as an address of type typ (upper case):
// SMTP must be an addr-spec and X400 RFC 1685 text; other types are free text.
func checkValue(typ, in string, lo, hi int) *Error {
	switch typ {
	case "SMTP":
		return checkAddrSpec(in, lo, hi)
	case "X400":
		_, err := parseX400(in, lo, hi)
		return err
	}
	return nil
}
