package xtext

import "testing"

// Encode and Decode are each other's inverse for printable ASCII, and
// Decode refuses what RFC 3461 section 4 does not allow.
func TestXtext(t *testing.T) {
	for in, want := range map[string]string{
		"bob@fabrikam.test":     "bob@fabrikam.test",
		"bob+tag@fabrikam.test": "bob+2Btag@fabrikam.test",
		"a=b c":                 "a+3Db+20c",
		"é":                     "+C3+A9", // bytes, not the code point
	} {
		if got := Encode(in); got != want {
			t.Errorf("Encode(%q) = %q, want %q", in, got, want)
		}
		if in == "é" {
			continue
		}
		if back, ok := Decode(want); !ok || back != in {
			t.Errorf("Decode(%q) = %q, %v, want %q", want, back, ok, in)
		}
	}
	for _, bad := range []string{"a+0D+0Ab", "a=b", "a b", "a+2", "a+2b", "a+7F", "\x01"} {
		if got, ok := Decode(bad); ok {
			t.Errorf("Decode(%q) = %q, want refused", bad, got)
		}
	}
}

// The RFC 6533 section 3 forms escape "\", "+", "=", controls and space,
// and differ only in non-ASCII; DecodeUnitext reads both back.
func TestUTF8Addr(t *testing.T) {
	in := `jö+r=g\ x@bücher.test`
	x := EncodeUTF8Addr(in)
	u := EncodeUTF8Unitext(in)
	if want := `j\x{F6}\x{2B}r\x{3D}g\x{5C}\x{20}x@b\x{FC}cher.test`; x != want {
		t.Errorf("EncodeUTF8Addr = %q, want %q", x, want)
	}
	if want := `jö\x{2B}r\x{3D}g\x{5C}\x{20}x@bücher.test`; u != want {
		t.Errorf("EncodeUTF8Unitext = %q, want %q", u, want)
	}
	for _, enc := range []string{x, u} {
		if got := DecodeUnitext(enc); got != in {
			t.Errorf("DecodeUnitext(%q) = %q, want %q", enc, got, in)
		}
	}
	if got := DecodeUnitext(`a\x{D800}b\x{}`); got != `a\x{D800}b\x{}` {
		t.Errorf("DecodeUnitext kept no invalid escape: %q", got)
	}
}
