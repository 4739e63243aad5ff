package address

import "strings"

// ParseRFC3192 parses a minimal FAX e-mail address (RFC 3192 §4, ABNF of
// RFC 2304 §2, exchange-semantics §6.1):
//
//	["/"] "FAX=" global-phone ["/T33S=" 1*DIGIT] ["/"] "@" domain
//	global-phone = "+" 1*( DIGIT / "-" / "." )
//
// "FAX=" and "T33S=" match in any case. A phone without the leading '+' is
// accepted (vendors accept it) but is not minimal-spec conformant; see
// IsMinimalRFC3192. The whole address must be a valid SMTP address (so no
// ".." in the phone) and the phone must end with a digit.
func ParseRFC3192(addr string) (phone, t33s, domain string, err error) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", "", "", errAt(addr, -1, "write FAX=+12125551212@fax.example", "missing '@' and domain")
	}
	if at+1 == len(addr) {
		return "", "", "", errAt(addr, at, "", "missing domain after '@'")
	}
	if e := checkAddrSpec(addr, 0, len(addr)); e != nil {
		return "", "", "", e
	}
	i, end := 0, at
	if i < end && addr[i] == '/' {
		i++
	}
	if end > i && addr[end-1] == '/' {
		end--
	}
	if !hasPrefixFold(addr[i:end], "FAX=") {
		return "", "", "", errAt(addr, i, "write FAX=+12125551212@fax.example", "the local part does not begin with FAX=")
	}
	i += 4
	start, digits := i, 0
	if i < end && addr[i] == '+' {
		i++
	}
	for ; i < end && (isDigit(addr[i]) || addr[i] == '-' || addr[i] == '.'); i++ {
		if isDigit(addr[i]) {
			digits++
		}
	}
	if digits == 0 {
		return "", "", "", errAt(addr, start, "write the number in international form, e.g. +12125551212", "no digits in the phone number after FAX=")
	}
	if !isDigit(addr[i-1]) {
		return "", "", "", errAt(addr, i-1, "end the number with a digit", "phone number ends with %s", char(addr, i-1))
	}
	phone = addr[start:i]
	if i == end {
		return phone, "", addr[at+1:], nil
	}
	if addr[i] != '/' {
		return "", "", "", badChar(addr, i, "a global phone number", "write digits, '-' and '.' only, e.g. +1-212-555-1212")
	}
	if !hasPrefixFold(addr[i+1:end], "T33S=") {
		return "", "", "", errAt(addr, i+1, "the only qualifier is /T33S=<digits>", "expected T33S= after '/'")
	}
	i += 6
	s := i
	for i < end && isDigit(addr[i]) {
		i++
	}
	if i == s {
		return "", "", "", errAt(addr, s, "", "no digits in the T33S sub-address")
	}
	if i < end {
		return "", "", "", badChar(addr, i, "a T33S sub-address", "it is digits only")
	}
	return phone, addr[s:i], addr[at+1:], nil
}

// IsMinimalRFC3192 reports whether addr is an RFC 3192 minimal FAX address
// with a global phone number (leading '+').
func IsMinimalRFC3192(addr string) bool {
	phone, _, _, err := ParseRFC3192(addr)
	return err == nil && phone[0] == '+'
}

// FormatRFC3192 writes a minimal FAX address: "FAX=phone@domain", or with a
// sub-address "/FAX=phone/T33S=sub/@domain" as in the RFC 3192 examples.
func FormatRFC3192(phone, t33s, domain string) string {
	if t33s == "" {
		return "FAX=" + phone + "@" + domain
	}
	return "/FAX=" + phone + "/T33S=" + t33s + "/@" + domain
}
