package api_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/api"
)

type oabFull struct {
	Version string
	Full    bool
	Entries []api.OABEntry
}

type oabChanges struct {
	Version, Since string
	Full           bool
	Added, Changed []api.OABEntry
	Removed        []string
}

func byName(entries []api.OABEntry) map[string]api.OABEntry {
	m := map[string]api.OABEntry{}
	for _, e := range entries {
		m[e.Name] = e
	}
	return m
}

func TestOABFull(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	resp := e.do(alice("GET", "/api/v1/oab"))
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.Contains(string(raw), "$2a$") || strings.Contains(string(raw), "password_hash") {
		t.Fatalf("status %d, body %s", resp.StatusCode, raw)
	}
	var book oabFull
	decode(t, e.do(alice("GET", "/api/v1/oab")), http.StatusOK, &book)
	if !book.Full || len(book.Version) != 16 || len(book.Entries) != 5 {
		t.Fatalf("%+v", book)
	}
	m := byName(book.Entries)
	for _, tc := range []struct {
		name, kind string
		addrs      []string
	}{
		{"Alice Example", "mailbox", []string{"SMTP:alice@contoso.test", "smtp:a@contoso.test", "X500:/o=Contoso/ou=HQ/cn=alice"}},
		{"Bob Branch", "mailbox", []string{"SMTP:bob@contoso.test"}},
		{"Legal Fax", "contact", []string{"SMTP:legalfax@contoso.test"}},
		{"Sales", "group", []string{"SMTP:sales@contoso.test"}},
	} {
		got := m[tc.name]
		if got.Kind != tc.kind || !slices.Equal(got.Addresses, tc.addrs) || len(got.ID) != 16 {
			t.Errorf("%s: %+v, want kind %s, addresses %v", tc.name, got, tc.kind, tc.addrs)
		}
	}
	if et := resp.Header.Get("ETag"); et != `"`+book.Version+`"` {
		t.Errorf("ETag %q, version %s", et, book.Version)
	}
	r := alice("GET", "/api/v1/oab")
	r.header = map[string]string{"If-None-Match": `"` + book.Version + `"`}
	if resp := e.do(r); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
	// Nothing changed since the current version.
	var ch oabChanges
	decode(t, e.do(alice("GET", "/api/v1/oab?since="+book.Version)), http.StatusOK, &ch)
	if ch.Full || ch.Version != book.Version || ch.Since != book.Version || ch.Added == nil || len(ch.Added)+len(ch.Changed)+len(ch.Removed) != 0 {
		t.Errorf("since the current version: %+v", ch)
	}
}

func TestOABChangesSince(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	var v1 oabFull
	decode(t, e.do(alice("GET", "/api/v1/oab")), http.StatusOK, &v1)

	// A reload: Carol added, Legal Fax renamed, Sales removed, Alice the same.
	text := strings.Replace(orgText(true), `name = "Legal Fax"`, `name = "Legal Fax (NY)"`, 1)
	text = strings.Replace(text, `[[recipient]]
kind = "group"
name = "Sales"
addresses = ["SMTP:sales@contoso.test"]
members = ["alice@contoso.test", "bob@contoso.test", "legalfax@contoso.test"]`, "", 1)
	e.swap(text + `
[[recipient]]
kind = "contact"
name = "Carol"
addresses = ["SMTP:carol@contoso.test", "FAX:+1 555 0123"]
target = "SMTP:carol@fabrikam.test"`)

	var ch oabChanges
	decode(t, e.do(bob("GET", "/api/v1/oab?since="+v1.Version)), http.StatusOK, &ch)
	old := byName(v1.Entries)
	if ch.Full || ch.Since != v1.Version || ch.Version == v1.Version {
		t.Fatalf("%+v", ch)
	}
	if len(ch.Added) != 1 || ch.Added[0].Name != "Carol" || !slices.Equal(ch.Added[0].Addresses, []string{"SMTP:carol@contoso.test", "FAX:+1 555 0123"}) {
		t.Errorf("added %+v", ch.Added)
	}
	if len(ch.Changed) != 1 || ch.Changed[0].Name != "Legal Fax (NY)" || ch.Changed[0].ID != old["Legal Fax"].ID {
		t.Errorf("changed %+v, want Legal Fax renamed, same id %s", ch.Changed, old["Legal Fax"].ID)
	}
	if !slices.Equal(ch.Removed, []string{old["Sales"].ID}) {
		t.Errorf("removed %v, want Sales %s", ch.Removed, old["Sales"].ID)
	}

	// The full book of the new version agrees, and keeps Alice's id.
	var v2 oabFull
	decode(t, e.do(alice("GET", "/api/v1/oab")), http.StatusOK, &v2)
	if v2.Version != ch.Version || len(v2.Entries) != 5 || byName(v2.Entries)["Alice Example"].ID != old["Alice Example"].ID {
		t.Errorf("%+v", v2)
	}

	// A version the hub never served: the whole book, marked full.
	var full oabFull
	decode(t, e.do(alice("GET", "/api/v1/oab?since=0123456789abcdef")), http.StatusOK, &full)
	if !full.Full || full.Version != v2.Version || len(full.Entries) != 5 {
		t.Errorf("unknown version: %+v", full)
	}
}

func TestOABBadSince(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	for _, s := range []string{"", "xyz", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", "../../etc"} {
		apiError(t, e.do(alice("GET", "/api/v1/oab?since="+s)), http.StatusBadRequest, api.CodeBadSince)
	}
}
