package addrspace

import (
	"strings"
	"testing"
)

// Vectors: exchange-semantics §8.1 (with the PowerShell quotes as written).
func TestParse(t *testing.T) {
	tests := []struct {
		in     string
		want   Space
		errHas []string // error text must hold each
	}{
		{in: `contoso.com`, want: Space{Type: "SMTP", Pattern: "contoso.com", Cost: 1}},
		{in: `"SMTP:contoso.com;1"`, want: Space{Type: "SMTP", Pattern: "contoso.com", Cost: 1}},
		{in: `"contoso.com;2"`, want: Space{Type: "SMTP", Pattern: "contoso.com", Cost: 2}},
		{in: `"X400:c=US;a=Fabrikam;P=Contoso;5"`, want: Space{Type: "X400", Pattern: "c=US;a=Fabrikam;P=Contoso", Cost: 5}},
		{in: `"Local:SMTP:contoso.com;1"`, want: Space{Type: "SMTP", Pattern: "contoso.com", Cost: 1, Scoped: true}},
		{in: `"FAX:*;1"`, want: Space{Type: "FAX", Pattern: "*", Cost: 1}},
		{in: `"SMTP:*contoso.com;1"`, errHas: []string{"not a whole leading label", `"*.contoso.com"`}},
		{in: `"contoso.com;0"`, errHas: []string{"cost 0 is out of range", "1 (best) to 100"}},
		{in: `"contoso.com;101"`, errHas: []string{"cost 101 is out of range"}},
		{in: `"X400:o=MySite;p=MyOrg;a=adatum;c=us"`, errHas: []string{"must end with ';<cost>'", `"X400:o=MySite;p=MyOrg;a=adatum;c=us;1"`}},
		{in: `"SMTP:--"`, errHas: []string{"Edge Transport", `"*"`}},
		// §1.1 equivalents and more.
		{in: `SMTP:contoso.com`, want: Space{Type: "SMTP", Pattern: "contoso.com", Cost: 1}},
		{in: `smtp:*;1`, want: Space{Type: "SMTP", Pattern: "*", Cost: 1}},
		{in: `*.com`, want: Space{Type: "SMTP", Pattern: "*.com", Cost: 1}},
		{in: ` *.Contoso.com ; 7 `, want: Space{Type: "SMTP", Pattern: "*.Contoso.com", Cost: 7}},
		{in: `local:fax:+1 425*;100`, want: Space{Type: "FAX", Pattern: "+1 425*", Cost: 100, Scoped: true}},
		{in: `Local:contoso.com`, want: Space{Type: "SMTP", Pattern: "contoso.com", Cost: 1, Scoped: true}},
		{in: `X400:c=US;a= ;p=Contoso;;3`, want: Space{Type: "X400", Pattern: "c=US;a= ;p=Contoso;", Cost: 3}},
		{in: `X400:c=US`, want: Space{Type: "X400", Pattern: "c=US", Cost: 1}},
		{in: `FAX:a;b;2`, want: Space{Type: "FAX", Pattern: "a;b", Cost: 2}},
		{in: `SMS:+1:555`, want: Space{Type: "SMS", Pattern: "+1:555", Cost: 1}},
		{in: `--`, errHas: []string{"Edge Transport"}},
		{in: `contoso.*`, errHas: []string{"not a whole leading label", `"*.contoso"`}},
		{in: `*.*.com`, errHas: []string{"not a whole leading label"}},
		{in: `contoso.com;x`, errHas: []string{`cost "x" is not a whole number`, `"contoso.com;1"`}},
		{in: `contoso.com;`, errHas: []string{`cost "" is not a whole number`}},
		{in: `contoso.com;-1`, errHas: []string{"not a whole number"}},
		{in: `contoso.com;99999999999999999999999`, errHas: []string{"out of range"}},
		{in: `X400:c=US;a=x`, errHas: []string{"must end with ';<cost>'", `"a=x"`}},
		{in: `X400:c=US;p;1`, errHas: []string{"X400 address space", "missing '='", "RFC 1685"}},
		{in: `X400:c=US;a=x;ADMD=y;1`, errHas: []string{`attribute "admd" twice`}},
		{in: `FAX:;1`, errHas: []string{"empty FAX address space", `"FAX:*;1"`}},
		{in: `FAX:`, errHas: []string{"empty FAX address space"}},
		{in: ``, errHas: []string{"empty SMTP address space"}},
		{in: `F;X:*;1`, errHas: []string{`type "F;X"`, "';'", "position 2"}},
		{in: `:*;1`, errHas: []string{"missing address type"}},
		{in: `cont_oso.com`, errHas: []string{"RFC 1035", "'_'", "position 5"}},
		{in: `contoso.com.`, errHas: []string{"ends with '.'"}},
		{in: `bücher.example`, errHas: []string{"non-ASCII", "xn--"}},
		{in: `a b.com`, errHas: []string{"' '"}},
		{in: "FAX:\xd0*\xbb", errHas: []string{"not valid UTF-8"}},
	}
	for _, tt := range tests {
		sp, err := Parse(tt.in)
		if tt.errHas != nil {
			if err == nil {
				t.Errorf("Parse(%s) = %+v, want an error", tt.in, sp)
				continue
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Parse(%s) error %q does not mention %s", tt.in, err, s)
				}
			}
			continue
		}
		if err != nil || !sp.Equal(tt.want) {
			t.Errorf("Parse(%s) = %+v, %v; want %+v", tt.in, sp, err, tt.want)
			continue
		}
		again, err := Parse(sp.String())
		if err != nil || !again.Equal(sp) {
			t.Errorf("Parse(%s).String() = %q re-parses to %+v, %v", tt.in, sp.String(), again, err)
		}
	}
}

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"contoso.com":                      "SMTP:contoso.com;1",
		`"Local:SMTP:contoso.com;1"`:       "Local:SMTP:contoso.com;1",
		"X400:c=US;a=Fabrikam;P=Contoso;5": "X400:c=US;a=Fabrikam;P=Contoso;5",
		"fax:*":                            "FAX:*;1",
	} {
		sp, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := sp.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", in, got, want)
		}
	}
	if got := (Space{Type: "FAX", Pattern: "*"}).String(); got != "FAX:*;1" {
		t.Errorf("zero cost String() = %q", got)
	}
}
