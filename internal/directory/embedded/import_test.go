package embedded

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/directory"
)

func servers(name string) (string, bool) {
	for _, s := range []string{"hub-hq", "hub-branch"} {
		if strings.EqualFold(s, name) {
			return s, true
		}
	}
	return "", false
}

func importText(t *testing.T, s *Store, format, text string) (int, error) {
	t.Helper()
	read := ReadCSV
	if format == "ldif" {
		read = ReadLDIF
	}
	recs, err := read(strings.NewReader(text), "in."+format)
	if err != nil && !errors.As(err, new(LineErrors)) {
		t.Fatal(err)
	}
	return s.Import(recs, ImportOptions{File: "in." + format, Errors: err, Server: servers})
}

// wantLines asserts that err lists problems on exactly these lines, each
// naming the file and containing its text.
func wantLines(t *testing.T, err error, want map[int]string) {
	t.Helper()
	var errs LineErrors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T), want LineErrors", err, err)
	}
	got := map[int]string{}
	for _, e := range errs {
		got[e.Line] += e.Error() + "\n"
	}
	for line, text := range want {
		if !strings.Contains(got[line], text) {
			t.Errorf("line %d: want %q, got %q", line, text, got[line])
		}
	}
	for line := range got {
		if _, ok := want[line]; !ok {
			t.Errorf("unexpected problem on line %d: %s", line, got[line])
		}
	}
}

const goodCSV = `kind,name,server,address,address,target,member,member,password_hash
mailbox,Alice,HUB-HQ,SMTP:alice@contoso.test,"X400:c=US;a= ;p=Contoso;s=Alice",,,,$2a$10$abcdefghijklmnopqrstuu
contact,Legal Fax,,SMTP:legalfax@contoso.test,,"FAX:+1 555 0199",,,
group,Sales,,SMTP:sales@contoso.test,smtp:s@contoso.test,,alice@contoso.test,legalfax@contoso.test,
`

func TestImportCSV(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), FileName), false)
	n, err := importText(t, s, "csv", goodCSV)
	if err != nil || n != 3 {
		t.Fatalf("import: %d %v", n, err)
	}
	a := s.Lookup(typed(t, "X400:s=alice;p=contoso;a= ;c=us"))
	if a == nil || a.Name != "Alice" || a.Server != "hub-hq" || a.PasswordHash == "" || !a.Addresses[0].Primary || !a.Addresses[1].Primary {
		t.Fatalf("Alice read back as %+v", a)
	}
	g := s.Lookup(typed(t, "smtp:S@contoso.test"))
	if g == nil || g.Kind != directory.Group || !reflect.DeepEqual(g.Members, []string{"alice@contoso.test", "legalfax@contoso.test"}) {
		t.Fatalf("Sales read back as %+v", g)
	}
	if c := s.Lookup(typed(t, "SMTP:legalfax@contoso.test")); c == nil || c.Target.String() != "FAX:+1 555 0199" {
		t.Fatalf("contact read back as %+v", c)
	}
}

// TestImportAllOrNothing: a file with bad rows reports each with its line
// (bad syntax, unknown kind and server, repeats within the file and
// clashes with what the store has) and imports none of its good rows.
func TestImportAllOrNothing(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), FileName), false)
	if _, err := importText(t, s, "csv", goodCSV); err != nil {
		t.Fatal(err)
	}
	_, err := importText(t, s, "csv", `kind,name,server,address,target
mailbox,Bob,hub-hq,SMTP:bob@contoso.test,
mailbox,Carol,hub-nowhere,SMTP:carol@contoso.test,
robot,R2,,SMTP:r2@contoso.test,
mailbox,Dan,hub-hq,not an address,
mailbox,Eve,hub-hq,SMTP:BOB@contoso.test,
mailbox,Frank,hub-hq,SMTP:Alice@Contoso.test,
contact,Gina,,SMTP:gina@contoso.test,
mailbox,Hal,hub-hq,SMTP:hal@contoso.test,extra,cell
mailbox,,hub-hq,SMTP:ivan@contoso.test,
`)
	wantLines(t, err, map[int]string{
		3:  `names server "hub-nowhere"`,
		4:  `unknown kind "robot"`,
		5:  `address "not an address"`,
		6:  `already on line 2`,
		7:  `already belongs to "Alice"`,
		8:  `a contact needs a target`,
		9:  `wrong number of fields`,
		10: `no name`,
	})
	if !strings.HasPrefix(err.Error(), "in.csv:3: ") {
		t.Errorf("errors should name file and line: %s", err)
	}
	if n, _ := s.Len(); n != 3 {
		t.Errorf("a failed import left %d entries, want the 3 from before", n)
	}
	if s.Lookup(typed(t, "SMTP:bob@contoso.test")) != nil {
		t.Error("Bob, a good row of a bad file, was imported")
	}
	_, err = importText(t, s, "csv", "name,address,colour\nx,SMTP:x@c.test,red\n")
	wantLines(t, err, map[int]string{1: `unknown column "colour"`})
}

const goodLDIF = `version: 1
# the tree
dn: dc=contoso,dc=test
objectClass: dcObject
objectClass: organization
o: Contoso
dc: contoso

dn: cn=Alice Example,ou=people,dc=contoso,dc=test
objectClass: inetOrgPerson
objectClass: waypostRecipient
cn: Alice Example
sn: Example
mail: alice@contoso.test
waypostProxyAddress: smtp:a@contoso.test
waypostProxyAddress: FAX:+1 555 0100
waypostHomeServer: hub-hq
userPassword: {CRYPT}$2a$10$abcdefghijklmnopqrstuu

dn: cn=Bob,ou=people,dc=contoso,dc=test
objectClass: user
displayName:: Qm9iIETDvHJy
proxyAddresses: SMTP:bob@contoso.test
msExchHomeServerName: /o=Contoso/ou=Exchange Administrative Group/cn=Configu
 ration/cn=Servers/cn=HUB-BRANCH
legacyExchangeDN: /o=Contoso/ou=First Administrative Group/cn=Recipients/cn=bob

dn: cn=Legal Fax,ou=people,dc=contoso,dc=test
objectClass: contact
cn: Legal Fax
targetAddress: FAX:+1 555 0199
mail: legalfax@contoso.test

dn: cn=Sales,ou=groups,dc=contoso,dc=test
objectClass: groupOfNames
cn: Sales
mail: sales@contoso.test
member: cn=Alice Example,ou=people,dc=contoso,dc=test
member: CN=Bob, OU=People, DC=Contoso, DC=Test
member: cn=Inner,ou=groups,dc=contoso,dc=test

dn: cn=Inner,ou=groups,dc=contoso,dc=test
objectClass: groupOfNames
cn: Inner
mail: inner@contoso.test
member: cn=Sales,ou=groups,dc=contoso,dc=test
`

func TestImportLDIF(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), FileName), false)
	n, err := importText(t, s, "ldif", goodLDIF)
	if err != nil || n != 5 {
		t.Fatalf("import: %d %v", n, err)
	}
	a := s.Lookup(typed(t, "FAX:+15550100"))
	if a == nil || a.Name != "Alice Example" || a.Server != "hub-hq" || a.PrimarySMTP() != "alice@contoso.test" || a.PasswordHash != "$2a$10$abcdefghijklmnopqrstuu" {
		t.Fatalf("Alice: %+v", a)
	}
	b := s.Lookup(typed(t, "EX:/o=Contoso/ou=First Administrative Group/cn=Recipients/cn=bob"))
	if b == nil || b.Name != "Bob Dürr" || b.Server != "hub-branch" {
		t.Fatalf("Bob: %+v", b)
	}
	g := s.Lookup(typed(t, "SMTP:sales@contoso.test"))
	if g == nil || !reflect.DeepEqual(g.Members, []string{"alice@contoso.test", "bob@contoso.test", "inner@contoso.test"}) {
		t.Fatalf("Sales: %+v", g)
	}
	if c := s.Lookup(typed(t, "SMTP:legalfax@contoso.test")); c == nil || c.Kind != directory.Contact {
		t.Fatalf("contact: %+v", c)
	}
}

func TestImportLDIFErrors(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), FileName), false)
	_, err := importText(t, s, "ldif", `dn: cn=A,dc=c
mail: a@contoso.test
waypostHomeServer: hub-hq
userPassword: secret

dn: cn=G,dc=c
objectClass: groupOfNames
mail: g@contoso.test
member: cn=Nobody,dc=c
badline
 continued

dn: cn=X,dc=c
mail: x@contoso.test

dn: cn=Y,dc=c
changetype: add
displayName:: !!!
`)
	wantLines(t, err, map[int]string{
		4:  "Waypost keeps no clear-text passwords",
		9:  `member "cn=Nobody,dc=c"`,
		10: `is not "attribute: value"`,
		13: "neither a mailbox",
		17: "changetype",
		18: "base64",
	})
	if n, _ := s.Len(); n != 0 {
		t.Errorf("%d entries imported from a bad file", n)
	}
}
