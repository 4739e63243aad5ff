package address

import "strings"

// EncodeIMCEA encapsulates an address of type typ in an SMTP address at
// domain ([MS-OXCMAIL] §2.1.3.1.8, exchange-semantics §3.1):
// "IMCEA" TYPE "-" encoded "@" domain. Letters, digits, '-' and '=' are kept,
// '/' becomes '_', and every other octet of the UTF-8 text (including '_'
// and '+') becomes "+HH" in upper-case hex (§3.3 [R]). The type is written
// upper case.
func EncodeIMCEA(typ, value, domain string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len("IMCEA-@") + len(typ) + 3*len(value) + len(domain))
	b.WriteString("IMCEA")
	b.WriteString(strings.ToUpper(typ))
	b.WriteByte('-')
	for i := 0; i < len(value); i++ {
		switch c := value[i]; {
		case isAlnum(c) || c == '-' || c == '=':
			b.WriteByte(c)
		case c == '/':
			b.WriteByte('_')
		default:
			b.WriteByte('+')
			b.WriteByte(hexdig[c>>4])
			b.WriteByte(hexdig[c&15])
		}
	}
	b.WriteByte('@')
	b.WriteString(domain)
	return b.String()
}

// imceaHead matches elements 1-3 of [MS-OXCMAIL] §2.2.3.1.2 in a local part:
// "IMCEA" in any case, one or more ASCII VCHARs of type, and "-". It returns
// the type upper case and the offset of the encoded address.
func imceaHead(local string) (typ string, at int, e *Error) {
	if !hasPrefixFold(local, "IMCEA") {
		return "", 0, &Error{Input: local, Pos: -1, Msg: "the local part does not begin with IMCEA", Err: ErrNotIMCEA}
	}
	dash := strings.IndexByte(local[5:], '-')
	if dash < 0 {
		return "", 0, &Error{Input: local, Pos: -1, Msg: "no '-' after the IMCEA address type", Err: ErrNotIMCEA}
	}
	if dash == 0 {
		return "", 0, &Error{Input: local, Pos: 5, Msg: "no address type after IMCEA", Err: ErrNotIMCEA}
	}
	for i := 5; i < 5+dash; i++ {
		if c := local[i]; c <= ' ' || c >= 0x7f {
			e := badChar(local, i, "an IMCEA address type", "")
			e.Err = ErrNotIMCEA
			return "", 0, e
		}
	}
	return strings.ToUpper(local[5 : 5+dash]), 5 + dash + 1, nil
}

// DecodeIMCEA de-encapsulates an IMCEA address ([MS-OXCMAIL] §2.2.3.1.2,
// exchange-semantics §3.2-3.3 [R]): the "IMCEA" prefix in any case, the type
// up to the first '-' (returned upper case), then the encoded address in
// which '_' stands for '/' and "+HH" (hex in either case) for the octet 0xHH;
// letters, digits, '-' and '=' stand for themselves. The domain is returned
// as written. If elements 1-3 do not match the error wraps ErrNotIMCEA; a
// bad escape or character is an *Error at its position.
func DecodeIMCEA(addr string) (typ, value, domain string, err error) {
	at := strings.LastIndexByte(addr, '@')
	local := addr
	if at >= 0 {
		local = addr[:at]
	}
	typ, start, e := imceaHead(local)
	if e != nil {
		e.Input = addr
		return "", "", "", e
	}
	if at < 0 {
		return "", "", "", errAt(addr, -1, "", "missing '@' and domain after the encapsulated address")
	}
	if at == start {
		return "", "", "", errAt(addr, at, "", "empty encapsulated address before '@'")
	}
	if at+1 == len(addr) {
		return "", "", "", errAt(addr, at, "", "missing domain after '@'")
	}
	b := make([]byte, 0, at-start)
	for i := start; i < at; i++ {
		switch c := addr[i]; {
		case isAlnum(c) || c == '-' || c == '=':
			b = append(b, c)
		case c == '_':
			b = append(b, '/')
		case c == '+':
			if i+2 >= at || !isHex(addr[i+1]) || !isHex(addr[i+2]) {
				bad := i + 1
				if bad < at && isHex(addr[bad]) {
					bad++
				}
				if bad >= at {
					return "", "", "", errAt(addr, i, "", "'+' must be followed by two hexadecimal digits")
				}
				return "", "", "", errAt(addr, bad, "", "'+' must be followed by two hexadecimal digits, not %s", char(addr, bad))
			}
			b = append(b, unhex(addr[i+1])<<4|unhex(addr[i+2]))
			i += 2
		default:
			return "", "", "", badChar(addr, i, "an IMCEA-encoded address", "it must be written as +HH")
		}
	}
	return typ, string(b), addr[at+1:], nil
}
