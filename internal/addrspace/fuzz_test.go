package addrspace

import (
	"testing"

	"github.com/waypost/waypost/internal/address"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`contoso.com`, `"SMTP:contoso.com;1"`, `"contoso.com;2"`, `"X400:c=US;a=Fabrikam;P=Contoso;5"`,
		`"Local:SMTP:contoso.com;1"`, `"FAX:*;1"`, `"SMTP:*contoso.com;1"`, `"contoso.com;0"`, `"contoso.com;101"`,
		`"X400:o=MySite;p=MyOrg;a=adatum;c=us"`, `"SMTP:--"`, `FAX:+1 425*;3`, `*.contoso.com`, `FAX:a;b;2`,
	} {
		f.Add(s, "a@b.contoso.com")
	}
	f.Fuzz(func(t *testing.T, s, rcpt string) {
		sp, err := Parse(s)
		if err != nil {
			_ = err.Error()
			return
		}
		again, err := Parse(sp.String())
		if err != nil || !again.Equal(sp) {
			t.Fatalf("Parse(%q) = %+v; String %q re-parses to %+v, %v", s, sp, sp.String(), again, err)
		}
		if a, err := address.Parse(rcpt, nil); err == nil {
			sp.Match(a)
		}
		sp.Match(address.Address{Type: sp.Type, Value: rcpt})
		if a, ok := sp.Witness(nil); ok {
			if _, ok := sp.Match(a); !ok {
				t.Fatalf("Parse(%q): witness %v not matched", s, a)
			}
		}
	})
}
