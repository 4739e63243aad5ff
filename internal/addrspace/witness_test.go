package addrspace

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/address"
)

func TestWitnessExamples(t *testing.T) {
	tests := []struct{ space, want string }{
		{"*", "SMTP:w@witness.invalid"},
		{"*.Contoso.com", "SMTP:w@contoso.com"},
		{"marketing.contoso.com", "SMTP:w@marketing.contoso.com"},
		{"FAX:*", "FAX:0"},
		{"FAX:+1 425*", "FAX:+1 425"},
		{"FAX:+15551234", "FAX:+15551234"},
		{"X400:c=US;a= ;p=Contoso;1", "X400:c=US;a=;p=Contoso;"},
	}
	for _, tt := range tests {
		a, ok := mustParse(t, tt.space).Witness(nil)
		if !ok || a.String() != tt.want {
			t.Errorf("Parse(%q).Witness(nil) = %v, %v; want %s", tt.space, a, ok, tt.want)
		}
	}
	lit := mustParse(t, "FAX:+15551234")
	if a, ok := lit.Witness(func(a address.Address) bool { return a.Key() == "FAX:+15551234" }); ok {
		t.Errorf("literal pattern in avoid gave witness %v", a)
	}
	full := mustParse(t, "X400:c=US;s=a;g=b;cn=c;i=d;q=e;1")
	if _, ok := full.Witness(func(address.Address) bool { return true }); ok {
		t.Error("witness found though avoid rejects everything")
	}
}

// randomSpace writes a random valid-looking address space.
func randomSpace(r *rand.Rand) string {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	label := func() string { return pick("contoso", "com", "a", "x-y", "b2", "Sales") }
	switch r.IntN(4) {
	case 0:
		d := label()
		for n := r.IntN(3); n > 0; n-- {
			d += "." + label()
		}
		return pick("", "SMTP:", "Local:") + pick("", "*.") + d + pick("", ";2")
	case 1:
		return pick("SMTP:*", "*", "*;100")
	case 2:
		var attrs []string
		for _, k := range []string{"c", pick("a", "ADMD"), "p", "o", "ou1", "s", "g", "cn"} {
			if r.IntN(3) == 0 {
				attrs = append(attrs, k+"="+pick("US", " ", "Contoso", "x y", "HQ"))
			}
		}
		if len(attrs) == 0 {
			attrs = []string{"c=US"}
		}
		return "X400:" + strings.Join(attrs, ";") + ";" + pick("1", "7")
	default:
		var b strings.Builder
		for n := r.IntN(6); n >= 0; n-- {
			b.WriteString(pick("*", "+1", " ", "425", "a", "Ü", "**", "-", "x"))
		}
		p := strings.TrimSpace(b.String())
		if p == "" {
			p = "*"
		}
		return pick("FAX", "sms", "MSPEER", "x-custom") + ":" + p + ";" + pick("1", "3")
	}
}

// Property: the witness is matched by its space and not avoided, even as
// avoid grows with every witness found before.
func TestWitnessProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 2000; n++ {
		s := randomSpace(r)
		sp, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		avoided := map[string]bool{}
		avoid := func(a address.Address) bool { return avoided[a.Key()] }
		for round := 0; round < 5; round++ {
			a, ok := sp.Witness(avoid)
			if !ok {
				if !strings.Contains(sp.Pattern, "*") && sp.Type != "SMTP" && sp.Type != "X400" && round > 0 {
					break // a literal pattern has one witness
				}
				t.Fatalf("%q: no witness in round %d (avoiding %v)", s, round, avoided)
			}
			if avoid(a) {
				t.Fatalf("%q: witness %v is avoided", s, a)
			}
			if _, ok := sp.Match(a); !ok {
				t.Fatalf("%q: witness %v is not matched", s, a)
			}
			if _, err := address.Parse(a.String(), nil); err != nil {
				t.Fatalf("%q: witness %v does not parse: %v", s, a, err)
			}
			avoided[a.Key()] = true
		}
	}
}
