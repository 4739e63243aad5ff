package ldapdir

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/test/harness"
)

// people is the test directory, in the OpenLDAP schema shipped in
// packaging/ldap: two mailboxes, a contact, and two groups that contain
// each other (a loop).
var people = `dn: ou=people,dc=contoso,dc=test
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=contoso,dc=test
objectClass: inetOrgPerson
objectClass: waypostRecipient
uid: alice
cn: Alice Example
sn: Example
mail: alice@contoso.test
waypostProxyAddress: smtp:a@contoso.test
waypostProxyAddress: FAX:+1 555 0100
waypostProxyAddress: X500:/o=Contoso/ou=HQ/cn=alice
waypostHomeServer: hub1
userPassword: ` + harness.SSHA("alice's password") + `

dn: uid=bob,ou=people,dc=contoso,dc=test
objectClass: inetOrgPerson
objectClass: waypostRecipient
uid: bob
cn: Bob
sn: Bob
description: prefix-secret
waypostProxyAddress: SMTP:bob@contoso.test
waypostHomeServer: cn=hub1,cn=Servers,dc=contoso,dc=test
userPassword: ` + harness.SSHA("bob's password") + `

dn: cn=Legal Fax,ou=people,dc=contoso,dc=test
objectClass: inetOrgPerson
objectClass: waypostRecipient
cn: Legal Fax
sn: Fax
mail: legalfax@contoso.test
waypostTargetAddress: FAX:+1 555 0199

dn: cn=Team,ou=people,dc=contoso,dc=test
objectClass: groupOfNames
objectClass: waypostRecipient
cn: Team
mail: team@contoso.test
member: uid=alice,ou=people,dc=contoso,dc=test
member: cn=Inner,ou=people,dc=contoso,dc=test
member: cn=Legal Fax,ou=people,dc=contoso,dc=test

dn: cn=Inner,ou=people,dc=contoso,dc=test
objectClass: groupOfNames
objectClass: waypostRecipient
cn: Inner
mail: inner@contoso.test
member: uid=bob,ou=people,dc=contoso,dc=test
member: cn=Team,ou=people,dc=contoso,dc=test
member: uid=gone,ou=people,dc=contoso,dc=test
`

// logBuffer is a log the test can read.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func openTest(t *testing.T, s *harness.Slapd, tune func(*config.LDAP)) (*Dir, *logBuffer) {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "ldap.secret")
	harness.Write(t, pw, harness.SlapdServicePassword+"\n")
	cfg := &config.LDAP{URL: s.URL, BaseDN: s.Base, BindDN: harness.SlapdServiceDN, BindPasswordFile: pw, Schema: config.SchemaOpenLDAP,
		PoolSize: 2, Timeout: 2 * time.Second, Cache: 0, NegativeCache: 0, Attributes: config.LDAPDefaults[config.SchemaOpenLDAP]}
	if tune != nil {
		tune(cfg)
	}
	logs := &logBuffer{}
	d, err := Open(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, logs
}

func typed(t *testing.T, s string) address.Address {
	t.Helper()
	a, err := address.Parse(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestFind(t *testing.T) {
	s := harness.StartSlapd(t, people)
	d, _ := openTest(t, s, nil)
	for _, q := range []string{"alice@contoso.test", "SMTP:ALICE@Contoso.TEST", "smtp:A@contoso.test", "FAX:+1 555 0100", "fax:+1 555 0100",
		"EX:/O=Contoso/OU=HQ/CN=Alice", "X500:/o=Contoso/ou=HQ/cn=alice"} {
		e, err := d.Find(typed(t, q))
		if err != nil || e == nil || e.Name != "Alice Example" || e.Kind != directory.Mailbox || e.Server != "hub1" || e.PrimarySMTP() != "alice@contoso.test" {
			t.Errorf("Find(%s) = %+v, %v", q, e, err)
		}
	}
	for _, q := range []string{"nobody@contoso.test", "FAX:+1 555 0101", "EX:/o=Contoso/cn=nobody"} {
		if e, err := d.Find(typed(t, q)); err != nil || e != nil {
			t.Errorf("Find(%s) = %+v, %v; want nothing", q, e, err)
		}
	}
	bob, _ := d.Find(typed(t, "bob@contoso.test"))
	if bob == nil || bob.Server != "hub1" || bob.ID != "ldap:uid=bob,ou=people,dc=contoso,dc=test" {
		t.Errorf("bob: %+v (the home server is a DN whose cn= names it)", bob)
	}
	fax, _ := d.Find(typed(t, "legalfax@contoso.test"))
	if fax == nil || fax.Kind != directory.Contact || fax.Target.String() != "FAX:+1 555 0199" {
		t.Errorf("contact: %+v", fax)
	}
	team, _ := d.Find(typed(t, "team@contoso.test"))
	if team == nil || team.Kind != directory.Group || !reflect.DeepEqual(team.Members, []string{"alice@contoso.test", "inner@contoso.test", "legalfax@contoso.test"}) {
		t.Errorf("group: %+v", team)
	}
	types, _, err := d.Types()
	if want := []string{"FAX", "SMTP", "X500"}; err != nil || !reflect.DeepEqual(types, want) {
		t.Errorf("Types = %v, %v; want %v", types, err, want)
	}
	var named []string
	d.EachWithType("FAX", func(e *directory.Entry) bool { named = append(named, e.Name); return true })
	if !reflect.DeepEqual(named, []string{"Alice Example"}) {
		t.Errorf("EachWithType(FAX) = %v", named)
	}
	var all []string
	if err := d.Walk(func(e *directory.Entry) bool { all = append(all, e.Name); return true }); err != nil {
		t.Fatal(err)
	}
	sort.Strings(all)
	if want := []string{"Alice Example", "Bob", "Inner", "Legal Fax", "Team"}; !reflect.DeepEqual(all, want) {
		t.Errorf("Walk = %v, want %v", all, want)
	}
}

// TestRoutingNestedGroups: the engine expands LDAP groups that contain each
// other, each member once, and routes the contact's FAX target.
func TestRoutingNestedGroups(t *testing.T) {
	s := harness.StartSlapd(t, people)
	d, _ := openTest(t, s, nil)
	org, err := config.Parse([]byte(`[organization]
default_domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
[[accepted_domain]]
domain = "contoso.test"
[[send_connector]]
name = "Fax"
address_spaces = ["FAX:*;1"]
source_servers = ["hub1"]
delivery = { kind = "drop", directory = "fax" }
`), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	file, _ := directory.NewMemory(org.Recipients)
	eng := routing.New(org, directory.Combine(file, d))
	dec := eng.Route("hub1", "team@contoso.test", 0, false)
	var got []string
	for _, m := range dec.Members {
		got = append(got, m.Recipient+" "+string(m.Outcome))
	}
	want := []string{"alice@contoso.test mailbox", "bob@contoso.test mailbox", "legalfax@contoso.test connector"}
	if dec.Outcome != routing.OutcomeExpanded || !reflect.DeepEqual(got, want) {
		t.Errorf("team expanded to %v, want %v", got, want)
	}
	if at := eng.AddressTypes("HQ"); !reflect.DeepEqual(at.Types, []string{"EX", "FAX", "SMTP", "X500"}) {
		t.Errorf("address types %v", at.Types)
	}
}

func TestAuthenticate(t *testing.T) {
	s := harness.StartSlapd(t, people)
	d, logs := openTest(t, s, nil)
	for _, user := range []string{"alice@contoso.test", "A@Contoso.test", "alice"} {
		if e, err := d.Authenticate(user, "alice's password"); err != nil || e.Name != "Alice Example" {
			t.Errorf("Authenticate(%q) = %v, %v", user, e, err)
		}
	}
	for _, c := range [][2]string{{"alice@contoso.test", "wrong"}, {"alice@contoso.test", ""}, {"team@contoso.test", "x"},
		{"nobody@contoso.test", "x"}, {"bob)(description=prefix*", "bob's password"}, {"*", "bob's password"}, {"b*", "bob's password"}} {
		if _, err := d.Authenticate(c[0], c[1]); !errors.Is(err, directory.ErrBadCredentials) {
			t.Errorf("Authenticate(%q, %q) = %v, want bad credentials", c[0], c[1], err)
		}
	}
	if !strings.Contains(logs.String(), "possible injection attempt") || !strings.Contains(logs.String(), "bob)(description=prefix*") {
		t.Errorf("the injection attempt was not logged:\n%s", logs)
	}
}

// TestInjection: filter syntax (RFC 4515 section 3) in a looked-up
// address finds nothing and is logged.
func TestInjection(t *testing.T) {
	s := harness.StartSlapd(t, people)
	d, logs := openTest(t, s, nil)
	for _, q := range []string{`SMTP:*)(uid=*@contoso.test`, `SMTP:*@contoso.test`, `SMTP:*`, `FAX:*`, `SMTP:alice@contoso.test)(|(mail=*`, "SMTP:a\\2a@contoso.test"} {
		a := address.Address{Type: "SMTP", Value: q[strings.IndexByte(q, ':')+1:]}
		if strings.HasPrefix(q, "FAX:") {
			a.Type = "FAX"
		}
		if e, err := d.Find(a); err != nil || e != nil {
			t.Errorf("Find(%q) = %+v, %v; want nothing", q, e, err)
		}
	}
	if n := strings.Count(logs.String(), "possible injection attempt"); n < 5 {
		t.Errorf("%d attempts logged, want every one:\n%s", n, logs)
	}
}

// TestOutage: while slapd is down every call fails with ErrUnavailable
// (not "not found"); once it is back the pool reconnects by itself.
func TestOutage(t *testing.T) {
	s := harness.StartSlapd(t, people)
	d, _ := openTest(t, s, nil)
	if e, err := d.Find(typed(t, "alice@contoso.test")); err != nil || e == nil {
		t.Fatal(e, err)
	}
	s.Stop()
	if e, err := d.Find(typed(t, "bob@contoso.test")); !errors.Is(err, directory.ErrUnavailable) || e != nil {
		t.Errorf("Find while down: %+v, %v; want ErrUnavailable", e, err)
	}
	if _, err := d.Authenticate("alice@contoso.test", "alice's password"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("Authenticate while down: %v", err)
	}
	if err := d.EachWithType("SMTP", func(*directory.Entry) bool { return true }); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("EachWithType while down: %v", err)
	}
	s.Start()
	if e, err := d.Find(typed(t, "bob@contoso.test")); err != nil || e == nil {
		t.Errorf("Find after slapd is back: %+v, %v", e, err)
	}
}

// TestCache: found entries are kept for the cache lifetime (and so still
// found while slapd restarts), "not found" for the negative lifetime.
func TestCache(t *testing.T) {
	s := harness.StartSlapd(t, people)
	d, _ := openTest(t, s, func(c *config.LDAP) { c.Cache, c.NegativeCache = time.Minute, 700*time.Millisecond })
	if e, _ := d.Find(typed(t, "carol@contoso.test")); e != nil {
		t.Fatal("carol before she exists")
	}
	if e, _ := d.Find(typed(t, "alice@contoso.test")); e == nil {
		t.Fatal("alice not found")
	}
	admin, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Bind(harness.SlapdAdminDN, harness.SlapdAdminPassword); err != nil {
		t.Fatal(err)
	}
	add := ldap.NewAddRequest("uid=carol,ou=people,dc=contoso,dc=test", nil)
	add.Attribute("objectClass", []string{"inetOrgPerson", "waypostRecipient"})
	add.Attribute("uid", []string{"carol"})
	add.Attribute("cn", []string{"Carol"})
	add.Attribute("sn", []string{"Carol"})
	add.Attribute("mail", []string{"carol@contoso.test"})
	add.Attribute("waypostHomeServer", []string{"hub1"})
	if err := admin.Add(add); err != nil {
		t.Fatal(err)
	}
	if e, _ := d.Find(typed(t, "carol@contoso.test")); e != nil {
		t.Error("the negative answer was not kept")
	}
	time.Sleep(800 * time.Millisecond)
	if e, _ := d.Find(typed(t, "carol@contoso.test")); e == nil {
		t.Error("carol not found once the negative answer expired")
	}
	s.Stop()
	if e, err := d.Find(typed(t, "Alice@contoso.test")); err != nil || e == nil {
		t.Errorf("a cached entry while slapd is down: %+v, %v", e, err)
	}
	s.Start()
}

// TestTLS: StartTLS and ldaps:// with the server's CA; a client that does
// not trust the certificate gets nothing, as an outage (never in clear).
func TestTLS(t *testing.T) {
	s := harness.StartSlapdTLS(t, people)
	starttls, _ := openTest(t, s, func(c *config.LDAP) { c.StartTLS, c.CAFile = true, s.CAFile })
	if e, err := starttls.Find(typed(t, "alice@contoso.test")); err != nil || e == nil {
		t.Errorf("StartTLS: %+v, %v", e, err)
	}
	if e, err := starttls.Authenticate("alice@contoso.test", "alice's password"); err != nil || e == nil {
		t.Errorf("AUTH over StartTLS: %+v, %v", e, err)
	}
	ldaps, _ := openTest(t, s, func(c *config.LDAP) { c.URL, c.CAFile = s.TLSURL, s.CAFile })
	if e, err := ldaps.Find(typed(t, "bob@contoso.test")); err != nil || e == nil {
		t.Errorf("ldaps: %+v, %v", e, err)
	}
	untrusted, logs := openTest(t, s, func(c *config.LDAP) { c.StartTLS = true })
	if e, err := untrusted.Find(typed(t, "alice@contoso.test")); !errors.Is(err, directory.ErrUnavailable) || e != nil {
		t.Errorf("StartTLS without the CA: %+v, %v; want ErrUnavailable", e, err)
	}
	if !strings.Contains(logs.String(), "certificate") {
		t.Errorf("the log does not say why:\n%s", logs)
	}
}
