// Package address parses, formats and normalises recipient addresses of every
// type Waypost routes: SMTP, one-off, typed (proxy) and encapsulated forms.
//
// It implements:
//   - docs/design/interfaces.md §2 (every accepted recipient form; types compare
//     case-insensitively and are shown upper case; errors name the character);
//   - RFC 5321 §4.1.2 / RFC 5322 §3.4 mailbox syntax with the RFC 6531/6532
//     UTF-8 extensions (ParseSMTP);
//   - MAPI one-off addresses, exchange-semantics §3.4 (ParseOneOff, FormatOneOff);
//   - IMCEA encapsulation, [MS-OXCMAIL] §2.1.3.1.8 and §2.2.3.1.2 with the
//     Exchange transport rules of exchange-semantics §3.1-3.3 (EncodeIMCEA,
//     DecodeIMCEA, and decapsulation in Parse);
//   - RFC 3192 minimal FAX addresses, exchange-semantics §6.1 (ParseRFC3192);
//   - RFC 1685 / Exchange X.400 attribute text, exchange-semantics §6.2 (ParseX400).
//
// Nothing here panics on input: every syntax error is an *Error naming the
// offending character and its position.
package address
