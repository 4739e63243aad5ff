package directory

import (
	"errors"
	"reflect"
	"testing"

	"github.com/waypost/waypost/internal/address"
)

func proxy(t *testing.T, s string, primary bool) Proxy {
	t.Helper()
	a, err := address.ParseTyped(s)
	if err != nil {
		t.Fatal(err)
	}
	return Proxy{Address: a, Primary: primary}
}

func TestLookup(t *testing.T) {
	alice := &Entry{Kind: Mailbox, Name: "Alice", Server: "hub1", Addresses: []Proxy{
		proxy(t, "smtp:a@contoso.test", false),
		proxy(t, "SMTP:alice@contoso.test", true),
		proxy(t, "FAX:+1 (555) 010-0", false),
		proxy(t, "X500:/o=Contoso/cn=alice", false),
		proxy(t, "X400:c=US;a= ;p=Contoso;s=Alice;", false),
	}}
	fax := &Entry{Kind: Contact, Name: "Fax", Addresses: []Proxy{proxy(t, "SMTP:fax@contoso.test", true)}}
	d, err := NewMemory([]*Entry{alice, fax})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"SMTP:ALICE@Contoso.Test", "smtp:a@contoso.test", "fax:+15550100", "FAX:+1 555 0100", "EX:/O=Contoso/CN=Alice", "X500:/o=contoso/cn=alice", "X400:p=Contoso;c=us;s=alice;a= "} {
		a, err := address.ParseTyped(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Lookup(a); got != alice {
			t.Errorf("Lookup(%s) = %v, want Alice", s, got)
		}
	}
	for _, s := range []string{"SMTP:bob@contoso.test", "FAX:+1 555 0101", "EX:/o=Contoso/cn=bob", "X500:/o=Contoso/cn=bobby"} {
		a, _ := address.ParseTyped(s)
		if got := d.Lookup(a); got != nil {
			t.Errorf("Lookup(%s) = %s, want nothing", s, got.Name)
		}
	}
	if got := alice.PrimarySMTP(); got != "alice@contoso.test" {
		t.Errorf("primary SMTP %q", got)
	}
	if got := fax.PrimarySMTP(); got != "fax@contoso.test" {
		t.Errorf("primary SMTP %q", got)
	}
	if got, want := Types(d), []string{"FAX", "SMTP", "X400", "X500"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Types = %v, want %v", got, want)
	}
}

func TestDuplicateAddress(t *testing.T) {
	a := &Entry{Kind: Mailbox, Name: "A", Addresses: []Proxy{proxy(t, "SMTP:x@contoso.test", true)}}
	b := &Entry{Kind: Mailbox, Name: "B", Addresses: []Proxy{proxy(t, "smtp:X@CONTOSO.TEST", false)}}
	_, err := NewMemory([]*Entry{a, b})
	var dup *DuplicateError
	if !errors.As(err, &dup) || dup.First != a || dup.Then != b || dup.Index != 1 {
		t.Fatalf("want a DuplicateError naming A and B, got %v", err)
	}
}

func TestLookupForms(t *testing.T) {
	x500 := address.Address{Type: "X500", Value: "/o=C/cn=a"}
	if got := LookupForms(x500); len(got) != 2 || got[1].Type != "EX" || got[1].Value != x500.Value {
		t.Errorf("X500 forms: %v", got)
	}
	if got := LookupForms(address.Address{Type: "FAX", Value: "1"}); len(got) != 1 {
		t.Errorf("FAX forms: %v", got)
	}
}

func TestServerName(t *testing.T) {
	for in, want := range map[string]string{
		"hub-hq": "hub-hq",
		"/o=Contoso/ou=Exchange Administrative Group/cn=Configuration/cn=Servers/CN=HUB-HQ": "HUB-HQ",
		"cn=hub-hq,cn=Servers,dc=contoso,dc=test":                                           "hub-hq",
		"/\xff/Cn=":   "", // not UTF-8: found by FuzzReadLDIF, once a panic
		"/no-cn-here": "/no-cn-here",
	} {
		if got := ServerName(in); got != want {
			t.Errorf("ServerName(%q) = %q, want %q", in, got, want)
		}
	}
}
