package addrspace

import (
	"testing"

	"github.com/waypost/waypost/internal/address"
)

func mustParse(t testing.TB, s string) Space {
	t.Helper()
	sp, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return sp
}

func smtp(v string) address.Address { return address.Address{Type: "SMTP", Value: v} }

// best returns the index of the most specific matching space, -1 if none.
func best(spaces []Space, a address.Address) int {
	bi, bs := -1, -1
	for i, sp := range spaces {
		if s, ok := sp.Match(a); ok && s > bs {
			bi, bs = i, s
		}
	}
	return bi
}

// Exchange-semantics §8.2: specificity decides before cost.
func TestSMTPSpecificity(t *testing.T) {
	c1, c2, c3 := mustParse(t, "SMTP:*;1"), mustParse(t, "SMTP:*.contoso.com;5"), mustParse(t, "SMTP:marketing.contoso.com;50")
	tests := []struct {
		rcpt   string
		spaces []Space
		want   int
	}{
		{"julia@marketing.contoso.com", []Space{c1, c2, c3}, 2},
		{"bob@sales.contoso.com", []Space{c1, c2, c3}, 1},
		{"bob@contoso.com", []Space{c1, c2, c3}, 1},
		{"bob@fabrikam.com", []Space{c1, c2, c3}, 0},
		{"julia@marketing.contoso.com", []Space{c1, c2}, 1},
		{"Julia@MARKETING.Contoso.COM", []Space{c3, c2, c1}, 0},
	}
	for _, tt := range tests {
		if got := best(tt.spaces, smtp(tt.rcpt)); got != tt.want {
			t.Errorf("%s: best space %d, want %d", tt.rcpt, got, tt.want)
		}
	}
	s1, _ := c1.Match(smtp("julia@marketing.contoso.com"))
	s2, _ := c2.Match(smtp("julia@marketing.contoso.com"))
	s3, _ := c3.Match(smtp("julia@marketing.contoso.com"))
	if !(s3 > s2 && s2 > s1) {
		t.Errorf("specificities %d, %d, %d: want marketing.contoso.com > *.contoso.com > *", s3, s2, s1)
	}
	// A longer suffix is more specific.
	a, b := mustParse(t, "*.com"), mustParse(t, "*.contoso.com")
	sa, _ := a.Match(smtp("x@sales.contoso.com"))
	sb, _ := b.Match(smtp("x@sales.contoso.com"))
	if sb <= sa {
		t.Errorf("*.contoso.com (%d) not more specific than *.com (%d)", sb, sa)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		space string
		a     address.Address
		ok    bool
		spec  int // checked when ok and > 0
	}{
		{"*.contoso.com", smtp("a@notcontoso.com"), false, 0},
		{"*.contoso.com", smtp("a@contoso.com.evil"), false, 0},
		{"contoso.com", smtp("a@sub.contoso.com"), false, 0},
		{"contoso.com", smtp("a@[192.0.2.1]"), false, 0},
		{"*", smtp("a@[192.0.2.1]"), true, 0},
		{"kontoso.com", smtp("a@\u212aontoso.com"), false, 0}, // Kelvin sign is not 'k'
		{"*", address.Address{Type: "FAX", Value: "1"}, false, 0},
		{"contoso.com", address.Address{Type: "smtp", Value: "a@Contoso.Com"}, true, 0},
		// X400 subset matching.
		{"X400:c=US;a=Fabrikam;P=Contoso;5", address.Address{Type: "X400", Value: "c=us;a=fabrikam;p=contoso;o=HQ;s=Smith;"}, true, 3},
		{"X400:c=US;a=Fabrikam;P=Contoso;5", address.Address{Type: "X400", Value: "C=US;ADMD=Fabrikam;PRMD= Contoso ;s=Smith"}, true, 3},
		{"X400:c=US;a=Fabrikam;P=Contoso;5", address.Address{Type: "X400", Value: "c=US;a=Fabrikam;p=Other;s=Smith"}, false, 0},
		{"X400:c=US;a=Fabrikam;P=Contoso;5", address.Address{Type: "X400", Value: "c=US;a=Fabrikam;s=Smith"}, false, 0},
		{"X400:c=US;a= ;p=Contoso;1", address.Address{Type: "X400", Value: "c=US;p=Contoso;s=Smith"}, true, 3},
		{"X400:c=US", address.Address{Type: "x400", Value: "c=US;s=Smith"}, true, 1},
		{"X400:c=US", address.Address{Type: "X400", Value: "not x400"}, false, 0},
		{"X400:c=US", address.Address{Type: "FAX", Value: "c=US"}, false, 0},
		// Custom wildcards.
		{"FAX:+1 425*", address.Address{Type: "FAX", Value: "+1 425 555"}, true, 6},
		{"FAX:+1 425*", address.Address{Type: "fax", Value: "+1 425"}, true, 6},
		{"FAX:+1 425*", address.Address{Type: "FAX", Value: "+1 426 555"}, false, 0},
		{"fax:*", address.Address{Type: "FAX", Value: "anything at all"}, true, 0},
		{"FAX:*", address.Address{Type: "SMS", Value: "1"}, false, 0},
		{"FAX:*5*5*", address.Address{Type: "FAX", Value: "55"}, true, 2},
		{"FAX:*5*5*", address.Address{Type: "FAX", Value: "5"}, false, 0},
		{"FAX:a*b*c", address.Address{Type: "FAX", Value: "aXbYbZc"}, true, 3},
		{"FAX:a*b*c", address.Address{Type: "FAX", Value: "abcx"}, false, 0},
		{"FAX:ab*ba", address.Address{Type: "FAX", Value: "aba"}, false, 0},
		{"SMS:Ünïcode*", address.Address{Type: "SMS", Value: "üNÏCODE 1"}, true, 7},
		{"MSPEER:\\\\billl\\in", address.Address{Type: "MSPEER", Value: "\\\\BILLL\\IN"}, true, 10},
	}
	for _, tt := range tests {
		sp := mustParse(t, tt.space)
		spec, ok := sp.Match(tt.a)
		if ok != tt.ok || ok && tt.spec > 0 && spec != tt.spec {
			t.Errorf("Parse(%q).Match(%+v) = %d, %v; want %d, %v", tt.space, tt.a, spec, ok, tt.spec, tt.ok)
		}
	}
}

// A Space not made by Parse, or changed after it, still matches by its fields.
func TestMatchUncompiled(t *testing.T) {
	sp := Space{Type: "SMTP", Pattern: "*.contoso.com", Cost: 1}
	if _, ok := sp.Match(smtp("a@b.contoso.com")); !ok {
		t.Error("literal Space does not match")
	}
	sp = mustParse(t, "contoso.com")
	sp.Pattern = "fabrikam.com"
	if _, ok := sp.Match(smtp("a@fabrikam.com")); !ok {
		t.Error("edited Space matches by its old pattern")
	}
	if _, ok := (Space{Type: "SMTP", Pattern: "*bad"}).Match(smtp("a@bad")); ok {
		t.Error("invalid pattern matched")
	}
}

func BenchmarkMatchSMTP(b *testing.B) {
	spaces := []Space{mustParse(b, "*"), mustParse(b, "*.contoso.com;5"), mustParse(b, "marketing.contoso.com;50")}
	a := smtp("julia@Marketing.Contoso.com")
	b.ReportAllocs()
	for b.Loop() {
		for _, sp := range spaces {
			sp.Match(a)
		}
	}
}
