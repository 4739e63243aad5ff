package ldapdir

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/config"
)

// FuzzFilter (RFC 4515 section 3 escaping): whatever a looked-up address
// holds, the search filter keeps its shape, an OR of two equality matches
// whose values are exactly the address: no value can add, remove or widen
// a term.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{"alice@contoso.test", "*)(uid=*", "bob)(description=prefix*", `a\2a`, "x\x00y", "(|(mail=*))", "é@ü.test"} {
		f.Add(s)
	}
	d := &Dir{a: config.LDAPDefaults[config.SchemaActiveDirectory], log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.Fuzz(func(t *testing.T, v string) {
		a := address.Address{Type: "SMTP", Value: v}
		filter := d.filter(a)
		p, err := ldap.CompileFilter(filter)
		if err != nil {
			t.Fatalf("filter %q for %q does not compile: %v", filter, v, err)
		}
		if p.Tag != ldap.FilterOr || len(p.Children) != 2 {
			t.Fatalf("filter %q for %q is not an OR of two terms", filter, v)
		}
		// filter trims blanks around the value, as address parsing does.
		want := []string{"SMTP:" + strings.TrimSpace(v), strings.TrimSpace(v)}
		for i, c := range p.Children {
			if c.Tag != ldap.FilterEqualityMatch || len(c.Children) != 2 || c.Children[1].Data.String() != want[i] {
				t.Fatalf("term %d of %q for %q is not an equality match on the value", i, filter, v)
			}
		}
	})
}
