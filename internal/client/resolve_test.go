package client

import (
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	book := sampleBook()
	for _, c := range []struct {
		in, typ, addr, name, entry string
	}{
		{"bob@contoso.test", "SMTP", "bob@contoso.test", "Bob (Branch)", "Bob (Branch)"},
		{"A@Contoso.Test", "SMTP", "alice@contoso.test", "Alice (HQ)", "Alice (HQ)"},                     // secondary proxy, case-insensitive
		{"[FAX:+1 (555) 0142]", "SMTP", "bob@contoso.test", "Bob (Branch)", "Bob (Branch)"},              // a FAX proxy, written separators ignored
		{"FAX:+1 555 0142", "SMTP", "bob@contoso.test", "Bob (Branch)", "Bob (Branch)"},                  // typed
		{"x500:/o=Contoso/ou=Branch/cn=BOB", "SMTP", "bob@contoso.test", "Bob (Branch)", "Bob (Branch)"}, // any type
		{"[FAX:+1 555 0100]", "FAX", "+1 555 0100", "", ""},
		{"Front Desk[FAX:+1 555 0101]", "FAX", "+1 555 0101", "Front Desk", ""},
		{`"Carol" <carol@fabrikam.test>`, "SMTP", "carol@fabrikam.test", "Carol", ""},
		{"[X400:c=US;a= ;p=Contoso;o=HQ;s=Smith]", "X400", "c=US;a= ;p=Contoso;o=HQ;s=Smith", "", ""},
	} {
		rs, err := Resolve(&book, "to", []string{c.in})
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		r := rs[0]
		if r.Type != c.typ || r.Address != c.addr || r.Name != c.name || r.Entry != c.entry || r.Written != c.in || r.Field != "to" {
			t.Errorf("%s: got %+v", c.in, r)
		}
	}
	_, err := Resolve(&book, "cc", []string{"ok@contoso.test", "bad@@x", "[FAX:]"})
	if err == nil || !strings.Contains(err.Error(), `"bad@@x"`) || !strings.Contains(err.Error(), `"[FAX:]"`) {
		t.Errorf("syntax errors: %v", err)
	}
}

func TestDecide(t *testing.T) {
	smtpOnly := &TypesCache{AddressTypes: AddressTypes{Site: "HQ", Types: []string{"SMTP", "X500"}, Version: "v1"}}
	withFax := &TypesCache{AddressTypes: AddressTypes{Site: "Branch", Types: []string{"FAX", "SMTP"}, Version: "v2"}}
	fax := Recipient{Written: "[FAX:+1 555 0100]", Type: "FAX", Address: "+1 555 0100"}
	for _, c := range []struct {
		name      string
		r         Recipient
		types     *TypesCache
		have      bool
		confirmed bool
		want      string
	}{
		{"fax, type cached", fax, withFax, true, false, Pending},
		{"fax, type not cached, not confirmed", fax, smtpOnly, true, false, Held},
		{"fax, no cache at all", fax, &TypesCache{}, false, false, Held},
		{"fax, type not listed, confirmed", fax, smtpOnly, true, true, Refused},
		{"fax, listed after revalidation", fax, withFax, true, true, Pending},
		{"smtp, never checked", Recipient{Type: "SMTP", Address: "x@fabrikam.test"}, smtpOnly, false, true, Pending},
		{"directory object of another type", Recipient{Type: "FAX", Address: "+1", Entry: "Fax Only"}, smtpOnly, true, true, Pending},
	} {
		r := c.r
		r.decide(c.types, c.have, c.confirmed)
		if r.State != c.want {
			t.Errorf("%s: state %s, want %s (%s)", c.name, r.State, c.want, r.Reason)
		}
		if r.State == Refused && (r.Status != "5.4.4" || !strings.Contains(r.Reason, "FAX") || !strings.Contains(r.Reason, "HQ")) {
			t.Errorf("%s: refusal %+v", c.name, r)
		}
	}
}

func TestOABApply(t *testing.T) {
	var o OAB
	o.apply(OABUpdate{Version: "a", Full: true, Entries: []OABEntry{{ID: "1", Name: "One"}, {ID: "2", Name: "Two"}, {ID: "3", Name: "Three"}}}, now0)
	o.apply(OABUpdate{Version: "b", Added: []OABEntry{{ID: "4", Name: "Four"}}, Changed: []OABEntry{{ID: "2", Name: "Two (renamed)"}}, Removed: []string{"3"}}, now0)
	var names []string
	for _, e := range o.Entries {
		names = append(names, e.ID+"="+e.Name)
	}
	if got := strings.Join(names, ","); o.Version != "b" || got != "4=Four,1=One,2=Two (renamed)" {
		t.Errorf("version %s, entries %s", o.Version, got)
	}
	o.apply(OABUpdate{Version: "c", Full: true, Entries: []OABEntry{{ID: "9", Name: "Nine"}}}, now0)
	if len(o.Entries) != 1 || o.Entries[0].ID != "9" {
		t.Errorf("a full book replaces: %+v", o.Entries)
	}
}
