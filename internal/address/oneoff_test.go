package address

import (
	"errors"
	"testing"
)

func TestParseOneOff(t *testing.T) {
	tests := []struct {
		in                  string
		display, typ, value string
		notOneOff           bool
		errHas              []string
	}{
		// exchange-semantics §8.6. Types are returned upper case
		// (interfaces.md §2), so "fax" reads as FAX.
		{in: "[FAX:0171020225]", typ: "FAX", value: "0171020225"},
		{in: "Fax Office[FAX:+1 425 555 0100]", display: "Fax Office", typ: "FAX", value: "+1 425 555 0100"},
		{in: `Bill Lee[MSPEER:\\\\billl\in]`, display: "Bill Lee", typ: "MSPEER", value: `\\billl\in`},
		{in: `Fax Recipient[fax:recipient\x0dbuilding]`, display: "Fax Recipient", typ: "FAX", value: "recipient\rbuilding"},
		{in: "Name[FAX:123] x", notOneOff: true, errHas: []string{"'x'", "position 15", "after ']'"}},
		// interfaces.md §2 and more.
		{in: "Legal Fax[FAX:+1 555 0199]", display: "Legal Fax", typ: "FAX", value: "+1 555 0199"},
		{in: "[X400:c=US;a= ;p=Contoso;o=HQ;s=Smith]", typ: "X400", value: "c=US;a= ;p=Contoso;o=HQ;s=Smith"},
		{in: `Fax Recipient[fax:recipient\x0dbuilding\x0doffice\x0d555-1212\x0d]`, display: "Fax Recipient", typ: "FAX", value: "recipient\rbuilding\roffice\r555-1212\r"},
		{in: "  [SMS:0171020225]  ", typ: "SMS", value: "0171020225"},
		{in: " Ann [ SMTP : ann@contoso.test ] ", errHas: []string{"' '", "position 7", "address type"}},
		{in: "Ann[SMTP: ann@contoso.test ]", display: "Ann", typ: "SMTP", value: "ann@contoso.test"},
		{in: `A\x5bB\x5d[X:\x5d]`, display: "A[B]", typ: "X", value: "]"},
		{in: `[X:a\]`, typ: "X", value: `a\`},
		{in: `[X:\x4]`, typ: "X", value: `\x4`},
		{in: "[SMTP:not an address]", errHas: []string{"' '", "position 10", "local part"}},
		{in: `[SMTP:a\x20b@x]`, errHas: []string{"invalid SMTP address", `"a b@x"`}},
		{in: "[X400:c=US;;p=x]", errHas: []string{"empty attribute", "position 12"}},
		{in: "[FAX:]", errHas: []string{"empty address", "position 5"}},
		{in: "[:123]", errHas: []string{"missing address type", "position 2"}},
		{in: "[-X:1]", errHas: []string{"'-'", "position 2"}},
		{in: "[FAX 1]", errHas: []string{"' '", "position 5"}},
		{in: "[FAX]", notOneOff: true, errHas: []string{"missing ':'", "position 5"}},
		{in: "[FAX:123", notOneOff: true, errHas: []string{"missing ']'"}},
		{in: "FAX:123", notOneOff: true, errHas: []string{"no '['"}},
		{in: "", notOneOff: true},
	}
	for _, tt := range tests {
		a, err := ParseOneOff(tt.in)
		if tt.notOneOff != errors.Is(err, ErrNotOneOff) {
			t.Errorf("ParseOneOff(%q): error %v, want ErrNotOneOff=%v", tt.in, err, tt.notOneOff)
		}
		if tt.errHas != nil || tt.notOneOff {
			wantErr(t, "ParseOneOff", tt.in, err, tt.errHas)
			continue
		}
		want := Address{Type: tt.typ, Value: tt.value, Display: tt.display}
		if err != nil || a != want {
			t.Errorf("ParseOneOff(%q) = %+v, %v; want %+v", tt.in, a, err, want)
		}
	}
}

func TestOneOffRoundTrip(t *testing.T) {
	for _, a := range []Address{
		{Type: "FAX", Value: "+1 425 555 0100", Display: "Fax Office"},
		{Type: "FAX", Value: "0171020225"},
		{Type: "MSPEER", Value: `\\billl\in`, Display: `Bill \ Lee`},
		{Type: "FAX", Value: "recipient\rbuilding\r", Display: " [lead] and trail "},
		{Type: "X", Value: `\x41 ]`, Display: "\xff\x00日本"},
		{Type: "X400", Value: "c=US;a= ;p=Contoso;", Display: "Smith"},
		{Type: "SMTP", Value: "alice@contoso.test", Display: "Alice"},
	} {
		s := FormatOneOff(a)
		got, err := ParseOneOff(s)
		if err != nil || got != a {
			t.Errorf("round trip %+v via %q: %+v, %v", a, s, got, err)
		}
	}
	if got := FormatOneOff(Address{Type: "FAX", Value: "recipient\rbuilding", Display: "Fax Recipient"}); got != `Fax Recipient[FAX:recipient\x0dbuilding]` {
		t.Errorf("FormatOneOff = %s", got)
	}
}
