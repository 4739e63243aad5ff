// Package addrspace parses and matches send connector address spaces
// (docs/design/exchange-semantics.md §1.1-1.3, test vectors §8.1-8.2).
//
// An address space is written "[Local:][Type:]Pattern[;Cost]" (New-SendConnector
// -AddressSpaces, §1.1). SMTP patterns are RFC 1035 domains with an optional
// whole leading "*" label (§1.2); X400 patterns are RFC 1685 attribute lists
// (§1.3); any other type's pattern is text in which "*" matches any run (§1.3 [R]).
package addrspace
