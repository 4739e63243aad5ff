package address

import (
	"errors"
	"strings"
	"testing"
)

// local is the authoritative accepted domain of these tests.
func local(d string) bool { return d == "contoso.com" || d == "contoso.test" }

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		isLocal func(string) bool
		want    Address
		refused bool
		errHas  []string
	}{
		// SMTP forms (interfaces.md §2).
		{in: "alice@contoso.test", want: Address{"SMTP", "alice@contoso.test", ""}},
		{in: " <alice@contoso.test> ", want: Address{"SMTP", "alice@contoso.test", ""}},
		{in: `"Alice" <alice@contoso.test>`, want: Address{"SMTP", "alice@contoso.test", "Alice"}},
		{in: "Alice <alice@contoso.test>", want: Address{"SMTP", "alice@contoso.test", "Alice"}},
		{in: "a@[IPv6:2001:db8::1]", want: Address{"SMTP", "a@[IPv6:2001:db8::1]", ""}},
		// One-off forms.
		{in: "[FAX:+1 555 0100]", want: Address{"FAX", "+1 555 0100", ""}},
		{in: "Legal Fax[FAX:+1 555 0199]", want: Address{"FAX", "+1 555 0199", "Legal Fax"}},
		{in: "[X400:c=US;a= ;p=Contoso;o=HQ;s=Smith]", want: Address{"X400", "c=US;a= ;p=Contoso;o=HQ;s=Smith", ""}},
		{in: `Bill Lee[MSPEER:\\\\billl\in]`, want: Address{"MSPEER", `\\billl\in`, "Bill Lee"}},
		{in: "Attn:Legal[FAX:1]", want: Address{"FAX", "1", "Attn:Legal"}},
		{in: `"Fax, Office"[FAX:1]`, want: Address{"FAX", "1", `"Fax, Office"`}},
		// Typed forms.
		{in: "FAX:+1 555 0100", want: Address{"FAX", "+1 555 0100", ""}},
		{in: "smtp:alice@contoso.test", want: Address{"SMTP", "alice@contoso.test", ""}},
		{in: "SMTP:a@[IPv6:2001:db8::1]", want: Address{"SMTP", "a@[IPv6:2001:db8::1]", ""}},
		{in: "SMS:+15550101@carrier.example", want: Address{"SMS", "+15550101@carrier.example", ""}},
		{in: "X400:c=US;a= ;p=Contoso;o=HQ;s=Smith;", want: Address{"X400", "c=US;a= ;p=Contoso;o=HQ;s=Smith;", ""}},
		{in: "EX:/o=Org/ou=Admin/cn=Recipients/cn=jsmith", want: Address{"EX", "/o=Org/ou=Admin/cn=Recipients/cn=jsmith", ""}},
		{in: "FAX:[not a one-off", want: Address{"FAX", "[not a one-off", ""}},
		// IMCEA and RFC 3192 decapsulation at an authoritative domain only (§3.2-3.3, §6.1).
		{in: "IMCEAFAX-+2B1+20555+200100@contoso.test", isLocal: local, want: Address{"FAX", "+1 555 0100", ""}},
		{in: "IMCEAFAX-+2B1+20555+200100@contoso.test", want: Address{"SMTP", "IMCEAFAX-+2B1+20555+200100@contoso.test", ""}},
		{in: "imceafax-+2b15551234@contoso.com", isLocal: local, want: Address{"FAX", "+15551234", ""}},
		{in: "Fax <IMCEAFAX-+2B15551234@CONTOSO.COM>", isLocal: local, want: Address{"FAX", "+15551234", "Fax"}},
		{in: "IMCEAFAX-+2B15551234@fabrikam.com", isLocal: local, want: Address{"SMTP", "IMCEAFAX-+2B15551234@fabrikam.com", ""}},
		{in: "IMCEAFAX-+2G1@contoso.com", isLocal: local, want: Address{"SMTP", "IMCEAFAX-+2G1@contoso.com", ""}},
		{in: "IMCEASMTP-a+40b.com@contoso.com", isLocal: local, refused: true, errHas: []string{"IMCEASMTP", "5.1.0"}},
		{in: "IMCEAX500-_o=x@contoso.com", isLocal: local, refused: true, errHas: []string{"IMCEAX500"}},
		{in: "IMCEASMTP-a+40b.com@fabrikam.com", isLocal: local, want: Address{"SMTP", "IMCEASMTP-a+40b.com@fabrikam.com", ""}},
		{in: "SMTP:IMCEAEX-_o=Org_cn=x@contoso.com", isLocal: local, want: Address{"EX", "/o=Org/cn=x", ""}},
		{in: "IMCEAX400-c=US+3Bp=x@contoso.com", isLocal: local, want: Address{"X400", "c=US;p=x", ""}},
		{in: "IMCEAX400-c+3B+3B@contoso.com", isLocal: local, want: Address{"SMTP", "IMCEAX400-c+3B+3B@contoso.com", ""}},
		{in: "IMCEAF_X-1@contoso.com", isLocal: local, want: Address{"SMTP", "IMCEAF_X-1@contoso.com", ""}},
		{in: "IMCEAFAX-" + strings.Repeat("1", 307) + "@contoso.com", isLocal: local, errHas: []string{"316 octets", "limit is 315"}},
		{in: "FAX=+12125551212@contoso.com", isLocal: local, want: Address{"FAX", "+12125551212", ""}},
		{in: "/FAX=+1-212-555-1212/T33S=1234/@contoso.com", isLocal: local, want: Address{"FAX", "+1-212-555-1212/T33S=1234", ""}},
		{in: "FAX=2125551212@contoso.com", isLocal: local, want: Address{"FAX", "2125551212", ""}},
		{in: "FAX=+12125551212@fax.example.com", isLocal: local, want: Address{"SMTP", "FAX=+12125551212@fax.example.com", ""}},
		{in: "FAX=+1@contoso.com", want: Address{"SMTP", "FAX=+1@contoso.com", ""}},
		{in: "FAX=+1x@contoso.com", isLocal: local, want: Address{"SMTP", "FAX=+1x@contoso.com", ""}},
		{in: `"IMCEAFAX-1"@contoso.com`, isLocal: local, want: Address{"SMTP", `"IMCEAFAX-1"@contoso.com`, ""}},
		// Errors name the character and where it is.
		{in: "", errHas: []string{"empty address"}},
		{in: "   ", errHas: []string{"empty address"}},
		{in: "alice", errHas: []string{"missing '@'"}},
		{in: "al ice@contoso.test", errHas: []string{"' '", "position 3"}},
		{in: "Name[FAX:123] x", errHas: []string{"'x'", "position 15"}},
		{in: "FAX:", errHas: []string{"empty address after ':'", "position 4"}},
		{in: "SMTP:bob", errHas: []string{"missing '@'"}},
		{in: "X400:c=US;;p=x", errHas: []string{"empty attribute", "position 11"}},
		{in: "a@[FAX:1]", errHas: []string{"address literal"}},
	}
	for _, tt := range tests {
		a, err := Parse(tt.in, tt.isLocal)
		if tt.refused != errors.Is(err, ErrRefusedEncapsulation) {
			t.Errorf("Parse(%q): error %v, want refused=%v", tt.in, err, tt.refused)
		}
		if tt.errHas != nil {
			wantErr(t, "Parse", tt.in, err, tt.errHas)
			continue
		}
		if err != nil || a != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.in, a, err, tt.want)
		}
	}
	if errors.Is(mustErr(Parse("Name[FAX:123] x", nil)), ErrNotOneOff) != true {
		t.Error("Parse of text after ']' does not wrap ErrNotOneOff")
	}
}

func mustErr(_ Address, err error) error { return err }

func TestParseStringRoundTrip(t *testing.T) {
	for _, s := range []string{
		"alice@contoso.test", `"Alice" <Alice@Contoso.Test>`, "[FAX:+1 555 0100]", "Legal Fax[FAX:+1 555 0199]",
		"FAX:+1 555 0100", "X400:c=US;a= ;p=Contoso;", "EX:/o=Org/cn=x", "a@[IPv6:::1]", `"john smith"@x`,
		"IMCEAFAX-+2B1@contoso.com",
	} {
		a, err := Parse(s, nil)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		b, err := Parse(a.String(), nil)
		a.Display = ""
		if err != nil || b != a {
			t.Errorf("Parse(%q).String() = %q re-parses to %+v, %v; want %+v", s, a.String(), b, err, a)
		}
	}
}

func TestAddressMethods(t *testing.T) {
	tests := []struct {
		a        Address
		str, key string
		smtp     bool
		domain   string
	}{
		{Address{"SMTP", "Alice@Contoso.Test", "A"}, "SMTP:Alice@Contoso.Test", "SMTP:alice@contoso.test", true, "contoso.test"},
		{Address{"X400", "S=Smith;c=US;ADMD= ;p=Contoso;o=HQ", ""}, "X400:S=Smith;c=US;ADMD= ;p=Contoso;o=HQ", "X400:c=us;a=;p=contoso;o=hq;s=smith;", false, ""},
		{Address{"X400", "not x400", ""}, "X400:not x400", "X400:not x400", false, ""},
		{Address{"FAX", "+1 (425) 555-0100", ""}, "FAX:+1 (425) 555-0100", "FAX:+14255550100", false, ""},
		{Address{"FAX", "+1.212.555.1212/T33S=12", ""}, "FAX:+1.212.555.1212/T33S=12", "FAX:+12125551212/t33s=12", false, ""},
		{Address{"EX", " /O=Org/CN=X ", ""}, "EX: /O=Org/CN=X ", "EX:/o=org/cn=x", false, ""},
		{Address{"fax", "1 2", ""}, "fax:1 2", "FAX:12", false, ""},
		{Address{"smtp", "a@B", ""}, "smtp:a@B", "SMTP:a@b", true, "b"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.str {
			t.Errorf("%+v.String() = %q, want %q", tt.a, got, tt.str)
		}
		if got := tt.a.Key(); got != tt.key {
			t.Errorf("%+v.Key() = %q, want %q", tt.a, got, tt.key)
		}
		if got := tt.a.IsSMTP(); got != tt.smtp {
			t.Errorf("%+v.IsSMTP() = %v", tt.a, got)
		}
		if got := tt.a.Domain(); got != tt.domain {
			t.Errorf("%+v.Domain() = %q, want %q", tt.a, got, tt.domain)
		}
	}
	// The same recipient written two ways has one key.
	x, _ := Parse("[X400:c=US;a= ;p=Contoso;o=HQ;s=Smith]", nil)
	y, _ := Parse("x400:S=smith; O=hq;P=contoso;admd=;C=us;", nil)
	if x.Key() != y.Key() {
		t.Errorf("X400 keys differ: %q vs %q", x.Key(), y.Key())
	}
}
