package address

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// checkErr fails unless err is an *Error whose position lies in its input.
func checkErr(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is %T, not *Error", err, err)
	}
	if e.Pos < -1 || e.Pos > len(e.Input) {
		t.Fatalf("error %q has position %d outside %d-byte input", e, e.Pos, len(e.Input))
	}
	_ = e.Error()
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"alice@contoso.test", "<alice@contoso.test>", `"Alice" <alice@contoso.test>`, "Alice <alice@contoso.test>",
		"[FAX:+1 555 0100]", "Legal Fax[FAX:+1 555 0199]", "[X400:c=US;a= ;p=Contoso;o=HQ;s=Smith]",
		`Bill Lee[MSPEER:\\\\billl\in]`, `Fax Recipient[fax:recipient\x0dbuilding]`, "Name[FAX:123] x",
		"FAX:+1 555 0100", "IMCEAFAX-+2B1+20555+200100@contoso.test", "IMCEASMTP-a+40b.com@contoso.com",
		"IMCEAX500-_o=x@contoso.com", "IMCEAFAX-+2G1@contoso.com", "FAX=+12125551212@contoso.test",
		"/FAX=+1-212-555-1212/T33S=1234/@contoso.test", "a@[IPv6:::1]", "SMTP:a@[1.2.3.4]", "Attn:Legal[FAX:1]",
	} {
		f.Add(s)
	}
	always := func(string) bool { return true }
	f.Fuzz(func(t *testing.T, s string) {
		for _, isLocal := range []func(string) bool{nil, always} {
			a, err := Parse(s, isLocal)
			if err != nil {
				checkErr(t, err)
				continue
			}
			if CheckType(a.Type) != nil || a.Type != strings.ToUpper(a.Type) || a.Value == "" {
				t.Fatalf("Parse(%q) = %+v: bad type or empty value", s, a)
			}
			_ = a.Key()
			_ = a.Domain()
			if isLocal != nil || trim(a.Value) != a.Value || strings.Contains(a.Value, "[") {
				continue // see Parse: String() of such values need not re-parse
			}
			b, err := Parse(a.String(), nil)
			a.Display = ""
			if err != nil || b != a {
				t.Fatalf("Parse(%q) = %+v; its String %q re-parses to %+v, %v", s, a, a.String(), b, err)
			}
		}
	})
}

func FuzzOneOff(f *testing.F) {
	for _, s := range []string{
		"[FAX:0171020225]", "Fax Office[FAX:+1 425 555 0100]", `Bill Lee[MSPEER:\\\\billl\in]`,
		`Fax Recipient[fax:recipient\x0dbuilding]`, "Name[FAX:123] x", `A\x5b[X:\x5d\]`, "[SMTP:a@b]",
		"[X400:c=US;a= ;p=Contoso]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseOneOff(s)
		if err != nil {
			checkErr(t, err)
			return
		}
		out := FormatOneOff(a)
		b, err := ParseOneOff(out)
		if err != nil || b != a {
			t.Fatalf("ParseOneOff(%q) = %+v; FormatOneOff gives %q which parses to %+v, %v", s, a, out, b, err)
		}
	})
}

func FuzzIMCEA(f *testing.F) {
	for _, v := range imceaVectors {
		f.Add(v.encoded)
		f.Add(v.value)
	}
	f.Add("imceafax-+2b15551234@contoso.com")
	f.Add("IMCEAFAX-+2G1@contoso.com")
	f.Fuzz(func(t *testing.T, s string) {
		// Any text but "" (no address to encapsulate) survives encapsulation.
		if s != "" {
			enc := EncodeIMCEA("FAX", s, "contoso.com")
			typ, v, d, err := DecodeIMCEA(enc)
			if err != nil || typ != "FAX" || v != s || d != "contoso.com" {
				t.Fatalf("EncodeIMCEA(%q) = %q decodes to %q, %q, %q, %v", s, enc, typ, v, d, err)
			}
		}
		// Whatever decodes re-encodes to the same meaning.
		typ, v, d, err := DecodeIMCEA(s)
		if err != nil {
			checkErr(t, err)
			return
		}
		enc := EncodeIMCEA(typ, v, d)
		t2, v2, d2, err := DecodeIMCEA(enc)
		if err != nil || t2 != typ || v2 != v || d2 != d {
			t.Fatalf("DecodeIMCEA(%q) = %q, %q, %q; re-encoded %q decodes to %q, %q, %q, %v", s, typ, v, d, enc, t2, v2, d2, err)
		}
	})
}

func FuzzX400(f *testing.F) {
	for _, s := range []string{
		"c=US;a= ;p=Contoso;o=HQ;s=Smith;", "c=US;a=Fabrikam;P=Contoso", "o=MySite;p=MyOrg;a=adatum;c=us",
		"c=US;;p=x", " C = US ; OU1=x=y;dda:smtp=a@b; ", "=", ";",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := ParseX400(s)
		if err != nil {
			checkErr(t, err)
			return
		}
		y, err := ParseX400(x.String())
		if err != nil || !reflect.DeepEqual(x, y) {
			t.Fatalf("ParseX400(%q) = %v; String %q re-parses to %v, %v", s, x, x.String(), y, err)
		}
		c := x.Canonical()
		z, err := ParseX400(c.String())
		if err != nil || !reflect.DeepEqual(z.Canonical(), c) {
			t.Fatalf("Canonical of %q is %q, which is not canonical: %v, %v", s, c.String(), z, err)
		}
		if k := (Address{Type: "X400", Value: s}).Key(); k != "X400:"+c.String() {
			t.Fatalf("Key of %q = %q, want X400:%s", s, k, c.String())
		}
	})
}

func FuzzRFC3192(f *testing.F) {
	for _, s := range []string{
		"FAX=+12125551212@fax.example.com", "/FAX=+1-212-555-1212/T33S=1234/@fax.example.com",
		"FAX=2125551212@fax.example.com", "fax=+1.2/t33s=7/@x", "FAX=+@x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		phone, sub, dom, err := ParseRFC3192(s)
		if err != nil {
			checkErr(t, err)
			return
		}
		out := FormatRFC3192(phone, sub, dom)
		p2, s2, d2, err := ParseRFC3192(out)
		if err != nil || p2 != phone || s2 != sub || d2 != dom {
			t.Fatalf("ParseRFC3192(%q) = %q, %q, %q; %q parses to %q, %q, %q, %v", s, phone, sub, dom, out, p2, s2, d2, err)
		}
		if _, _, err := ParseSMTP(out); err != nil {
			t.Fatalf("FormatRFC3192 gave %q, not an SMTP address: %v", out, err)
		}
	})
}

// wantErr fails unless fn(in) returned an error whose text holds each of subs.
func wantErr(t *testing.T, fn, in string, err error, subs []string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s(%q): no error, want one mentioning %q", fn, in, subs)
		return
	}
	checkErr(t, err)
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s(%q) error %q does not mention %q", fn, in, err, s)
		}
	}
}
