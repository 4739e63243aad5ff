package address

import (
	"errors"
	"testing"
)

// Vectors: exchange-semantics §8.5 (domain contoso.com).
var imceaVectors = []struct{ typ, value, encoded string }{
	{"FAX", "+1 (425) 555-0100", "IMCEAFAX-+2B1+20+28425+29+20555-0100@contoso.com"},
	{"FAX", "Somebody at The Office@2505555555", "IMCEAFAX-Somebody+20at+20The+20Office+402505555555@contoso.com"},
	{"EX", "/o=First Organization/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=jsmith",
		"IMCEAEX-_o=First+20Organization_ou=Exchange+20Administrative+20Group+20+28FYDIBOHF23SPDLT+29_cn=Recipients_cn=jsmith@contoso.com"},
	{"EX", "/O=CONTOSO/OU=First Administrative Group/cn=Recipients/cn=john_jacob.smith",
		"IMCEAEX-_O=CONTOSO_OU=First+20Administrative+20Group_cn=Recipients_cn=john+5Fjacob+2Esmith@contoso.com"},
	{"X400", "c=US;a= ;p=Contoso;o=Sales;s=Smith;g=Ann;",
		"IMCEAX400-c=US+3Ba=+20+3Bp=Contoso+3Bo=Sales+3Bs=Smith+3Bg=Ann+3B@contoso.com"},
	{"EX", "/cn=Leistikow, Britta - Voelkel GmbH", "IMCEAEX-_cn=Leistikow+2C+20Britta+20-+20Voelkel+20GmbH@contoso.com"},
	{"FAX", "München", "IMCEAFAX-M+C3+BCnchen@contoso.com"}, // UTF-8 octets, §3.3 [R]
}

func TestEncodeIMCEA(t *testing.T) {
	for _, v := range imceaVectors {
		if got := EncodeIMCEA(v.typ, v.value, "contoso.com"); got != v.encoded {
			t.Errorf("EncodeIMCEA(%q, %q)\n got %s\nwant %s", v.typ, v.value, got, v.encoded)
		}
	}
	if got := EncodeIMCEA("fax", "1", "x.test"); got != "IMCEAFAX-1@x.test" {
		t.Errorf("type not upper-cased: %s", got)
	}
}

func TestDecodeIMCEAVectors(t *testing.T) {
	for _, v := range imceaVectors {
		typ, value, domain, err := DecodeIMCEA(v.encoded)
		if err != nil || typ != v.typ || value != v.value || domain != "contoso.com" {
			t.Errorf("DecodeIMCEA(%s) = %q, %q, %q, %v; want %q, %q, contoso.com", v.encoded, typ, value, domain, err, v.typ, v.value)
		}
	}
}

func TestDecodeIMCEA(t *testing.T) {
	tests := []struct {
		in              string
		typ, value, dom string
		notIMCEA        bool
		errHas          []string // error text must hold each
	}{
		// §8.5 decode cases.
		{in: "imceafax-+2b15551234@contoso.com", typ: "FAX", value: "+15551234", dom: "contoso.com"},
		{in: "IMCEAFAX-+2G1@contoso.com", errHas: []string{"'G'", "position 12", "two hexadecimal digits"}},
		{in: "IMCEAFAX-+2B15551234@fabrikam.com", typ: "FAX", value: "+15551234", dom: "fabrikam.com"},
		{in: "IMCEASMTP-a+40b.com@contoso.com", errHas: []string{"'.'", "position 16", "+HH"}},
		{in: "IMCEAX500-_o=x@contoso.com", typ: "X500", value: "/o=x", dom: "contoso.com"},
		// More.
		{in: "IMCEAEX-a-b@x", typ: "EX", value: "a-b", dom: "x"},
		{in: "IMCEAFAX-+2@x", errHas: []string{"position 10", "two hexadecimal digits"}},
		{in: "IMCEAFAX-@x", errHas: []string{"empty encapsulated address", "position 10"}},
		{in: "IMCEAFAX-abc", errHas: []string{"missing '@'"}},
		{in: "IMCEAFAX-abc@", errHas: []string{"missing domain"}},
		{in: "alice@contoso.com", notIMCEA: true},
		{in: "IMCEA-abc@x", notIMCEA: true, errHas: []string{"no address type", "position 6"}},
		{in: "IMCEAFAX@x", notIMCEA: true},
		{in: "IMCEAF X-1@x", notIMCEA: true, errHas: []string{"' '", "position 7"}},
	}
	for _, tt := range tests {
		typ, value, dom, err := DecodeIMCEA(tt.in)
		if tt.notIMCEA != errors.Is(err, ErrNotIMCEA) {
			t.Errorf("DecodeIMCEA(%q): err %v, want ErrNotIMCEA=%v", tt.in, err, tt.notIMCEA)
		}
		if tt.errHas != nil || tt.notIMCEA {
			wantErr(t, "DecodeIMCEA", tt.in, err, tt.errHas)
			continue
		}
		if err != nil || typ != tt.typ || value != tt.value || dom != tt.dom {
			t.Errorf("DecodeIMCEA(%q) = %q, %q, %q, %v; want %q, %q, %q", tt.in, typ, value, dom, err, tt.typ, tt.value, tt.dom)
		}
	}
}

func TestIMCEARoundTrip(t *testing.T) {
	values := []string{"+1 555 0100", "/o=Org/ou=Admin/cn=Recipients/cn=x_y", "a+b_c=d-e", "\x00\xff\n", "日本語", "c=US;a= ;"}
	for _, typ := range []string{"FAX", "EX", "X400", "MSPEER"} {
		for _, v := range values {
			enc := EncodeIMCEA(typ, v, "contoso.com")
			gt, gv, gd, err := DecodeIMCEA(enc)
			if err != nil || gt != typ || gv != v || gd != "contoso.com" {
				t.Errorf("round trip %q %q via %s: %q %q %q %v", typ, v, enc, gt, gv, gd, err)
			}
		}
	}
}
