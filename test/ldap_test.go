package test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/test/harness"
)

// ldapPeople is the directory of the LDAP tests, in the OpenLDAP schema of
// packaging/ldap: mailboxes on the given home servers, a fax contact, and
// two groups that contain each other. Every password is "pw".
func ldapPeople(aliceHome, bobHome string) string {
	pw := harness.SSHA("pw")
	return fmt.Sprintf(`dn: ou=people,dc=contoso,dc=test
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=contoso,dc=test
objectClass: inetOrgPerson
objectClass: waypostRecipient
uid: alice
cn: Alice Example
sn: Example
mail: alice@contoso.test
waypostProxyAddress: X500:/o=Contoso/ou=HQ/cn=alice
waypostHomeServer: %s
userPassword: %s

dn: uid=bob,ou=people,dc=contoso,dc=test
objectClass: inetOrgPerson
objectClass: waypostRecipient
uid: bob
cn: Bob
sn: Bob
description: prefix-secret
waypostProxyAddress: SMTP:bob@contoso.test
waypostHomeServer: %s
userPassword: %s

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
`, aliceHome, pw, bobHome, pw)
}

// ldapSection is the [directory] section for slapd s; the service
// account's password goes into ldap.secret in dir.
func ldapSection(t *testing.T, s *harness.Slapd, dir string) string {
	harness.Write(t, filepath.Join(dir, "ldap.secret"), harness.SlapdServicePassword+"\n")
	return fmt.Sprintf(`
[directory]
backend = "ldap"
[directory.ldap]
url = %q
base_dn = %q
bind_dn = %q
bind_password_file = "ldap.secret"
schema = "openldap"
cache = "0s"
negative_cache = "0s"
timeout = "2s"
`, s.URL, s.Base, harness.SlapdServiceDN)
}

// withoutRecipients cuts the [[recipient]] entries off the end of an
// organization file (where the seed scenario has them).
func withoutRecipients(text string) string {
	if i := strings.Index(text, "\n[[recipient]]"); i >= 0 {
		return text[:i+1]
	}
	return text
}

// replied reports whether err is an SMTP reply with code and status.
func replied(err error, code, status string) bool {
	return err != nil && strings.Contains(err.Error(), code) && strings.Contains(err.Error(), status)
}

// TestLDAPHub: one real hub whose recipients live in a real slapd. Groups
// nest and loop, users log in by LDAP bind, injection attempts find
// nothing and are logged, and while slapd is down mail waits with 4.4.3
// and flows once it is back.
func TestLDAPHub(t *testing.T) {
	ldap := harness.StartSlapd(t, ldapPeople("hub1", "hub1"))
	dir := t.TempDir()
	smtpAddr, submission, sinkAddr, apiAddr := harness.Port(t), harness.Port(t), harness.Port(t), harness.Port(t)
	file := filepath.Join(dir, "org.toml")
	data := filepath.Join(dir, "data", "hub1")
	harness.Write(t, file, fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
retry = { glitch_count = 15, glitch_interval = "1s" }
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
api = %q
  [[server.receive]]
  name = "Default"
  listen = %q
  kind = "smtp"
  [[server.receive]]
  name = "Clients"
  listen = %q
  kind = "submission"
[[accepted_domain]]
domain = "contoso.test"
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", smart_hosts = [%q] }
[[send_connector]]
name = "Fax"
address_spaces = ["FAX:*;1"]
source_servers = ["hub1"]
delivery = { kind = "drop", directory = "fax-out" }
[[recipient]]
kind = "mailbox"
name = "Postmaster"
server = "hub1"
addresses = ["SMTP:postmaster@contoso.test"]
`, apiAddr, smtpAddr, submission, sinkAddr)+ldapSection(t, ldap, dir))
	h := harness.Start(t, file, "hub1", smtpAddr, submission, apiAddr)
	apiGet := func() (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+apiAddr+"/api/v1/address-types", nil)
		req.SetBasicAuth("alice@contoso.test", "pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := apiGet(); code != http.StatusOK {
		t.Errorf("API login by LDAP bind: %d %s", code, body)
	}
	msg := []byte("From: carol@fabrikam.test\r\nSubject: team\r\n\r\nHello team.\r\n")

	// Nested groups with a loop: each member once; the contact's FAX target
	// goes to the drop folder.
	if err := smtp.SendMail(smtpAddr, nil, "carol@fabrikam.test", []string{"team@contoso.test", "postmaster@contoso.test"}, msg); err != nil {
		t.Fatalf("to the LDAP group: %v\n%s", err, h.Log())
	}
	for _, who := range []string{"alice@contoso.test", "bob@contoso.test", "postmaster@contoso.test"} {
		harness.WaitFor(t, 10*time.Second, "delivery to "+who, func() bool { return len(harness.Maildir(t, data, delivery.Folder(who))) > 0 })
	}
	harness.WaitFor(t, 10*time.Second, "the fax in the drop folder", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "fax-out", "*.eml"))
		return len(files) == 1
	})
	time.Sleep(300 * time.Millisecond)
	for _, who := range []string{"alice@contoso.test", "bob@contoso.test"} {
		if n := len(harness.Maildir(t, data, delivery.Folder(who))); n != 1 {
			t.Errorf("%s got %d copies through the looping groups, want 1", who, n)
		}
	}
	// EX through the X500 proxy; unknown at RCPT.
	if err := smtp.SendMail(smtpAddr, nil, "carol@fabrikam.test", []string{"IMCEAEX-_o=Contoso_ou=HQ_cn=alice@contoso.test"}, msg); err != nil {
		t.Errorf("IMCEAEX for alice's X500 proxy: %v", err)
	}
	err := smtp.SendMail(smtpAddr, nil, "carol@fabrikam.test", []string{"nobody@contoso.test"}, msg)
	if err == nil || !strings.Contains(err.Error(), "5.1.1") {
		t.Errorf("unknown recipient: %v", err)
	}

	// LDAP filter injection (RFC 4515 section 3) in a recipient and in an AUTH user name.
	for _, rcpt := range []string{`"*)(uid=*"@contoso.test`, `"*"@contoso.test`} {
		err := smtp.SendMail(smtpAddr, nil, "carol@fabrikam.test", []string{rcpt}, msg)
		if !replied(err, "550", "5.1.1") {
			t.Errorf("RCPT <%s>: %v, want 550 5.1.1", rcpt, err)
		}
	}
	host, _, _ := net.SplitHostPort(submission)
	err = smtp.SendMail(submission, smtp.PlainAuth("", "bob)(description=prefix*", "pw", host), "bob@contoso.test", []string{"x@example.org"}, msg)
	if err == nil || !strings.Contains(err.Error(), "535") {
		t.Errorf("AUTH as an injected user name: %v, want 535", err)
	}
	if n := strings.Count(h.Log(), "possible injection attempt"); n < 3 {
		t.Errorf("%d injection attempts logged, want 3:\n%s", n, h.Log())
	}

	// AUTH by LDAP bind; the message waits for the smart host, which is down.
	if err := smtp.SendMail(submission, smtp.PlainAuth("", "alice@contoso.test", "pw", host), "alice@contoso.test", []string{"dave@example.org"}, []byte("Subject: out\r\n\r\nwhile slapd sleeps\r\n")); err != nil {
		t.Fatalf("AUTH by LDAP bind: %v\n%s", err, h.Log())
	}
	err = smtp.SendMail(submission, smtp.PlainAuth("", "alice@contoso.test", "wrong", host), "alice@contoso.test", []string{"dave@example.org"}, msg)
	if err == nil || !strings.Contains(err.Error(), "535") {
		t.Errorf("wrong password: %v", err)
	}

	// The directory goes away: RCPT 451 4.4.3, AUTH 454 4.7.0, and the
	// queued message is deferred with 4.4.3 even though its smart host is
	// now up.
	ldap.Stop()
	err = smtp.SendMail(smtpAddr, nil, "carol@fabrikam.test", []string{"alice@contoso.test"}, msg)
	if !replied(err, "451", "4.4.3") {
		t.Errorf("RCPT while slapd is down: %v, want 451 4.4.3", err)
	}
	err = smtp.SendMail(submission, smtp.PlainAuth("", "alice@contoso.test", "pw", host), "alice@contoso.test", []string{"dave@example.org"}, msg)
	if !replied(err, "454", "4.7.0") {
		t.Errorf("AUTH while slapd is down: %v, want 454 4.7.0", err)
	}
	if code, body := apiGet(); code != http.StatusServiceUnavailable || !strings.Contains(body, `"code":"directory_unavailable"`) {
		t.Errorf("API login while slapd is down: %d %s, want 503 directory_unavailable", code, body)
	}
	sink := &sink{}
	ln, err := net.Listen("tcp", sinkAddr)
	if err != nil {
		t.Fatal(err)
	}
	srv := gosmtp.NewServer(sink)
	go srv.Serve(ln)
	defer srv.Close()
	track := func() string { b, _ := os.ReadFile(filepath.Join(data, "tracking.log")); return string(b) }
	harness.WaitFor(t, 15*time.Second, "a DEFER with 4.4.3 for dave", func() bool {
		for _, line := range strings.Split(track(), "\n") {
			if strings.Contains(line, `"event":"DEFER"`) && strings.Contains(line, `"status":"4.4.3"`) && strings.Contains(line, "dave@example.org") {
				return true
			}
		}
		return false
	})
	if sink.count() != 0 {
		t.Fatal("the message left while the directory was down")
	}
	ldap.Start()
	harness.WaitFor(t, 15*time.Second, "dave's message at the smart host once slapd is back", func() bool { return sink.count() == 1 })
	if !strings.Contains(sink.data[0], "while slapd sleeps") {
		t.Errorf("smart host got %q", sink.data[0])
	}
}

// TestLDAPSeedScenario is the seed scenario (test/scenarios/seed) with its
// recipients in LDAP instead of the organization file: three hubs share
// one directory.
func TestLDAPSeedScenario(t *testing.T) {
	ldap := harness.StartSlapd(t, ldapPeople("hub-hq1", "hub-branch"))
	s := newSeed(t)
	s.template = withoutRecipients(s.template) + ldapSection(t, ldap, s.dir)
	if strings.Contains(s.template, "[[recipient]]") {
		t.Fatal("recipients left in the organization file")
	}
	s.write()
	for _, srv := range []string{"hub-hq1", "hub-hq2", "hub-branch"} {
		s.start(srv)
	}
	alice, bob := delivery.Folder("alice@contoso.test"), delivery.Folder("bob@contoso.test")
	s.submit("hub-branch", "bob@contoso.test", faxIMCEA, "fax from branch")
	s.waitFor("Bob's fax in the drop folder", func() bool { return s.dropped(faxIMCEA, "fax from branch body") })
	s.submit("hub-hq1", "alice@contoso.test", faxIMCEA, "fax from hq")
	s.waitFor("Alice's NDR", func() bool { return len(harness.Maildir(t, s.data("hub-hq1"), alice)) == 1 })
	if ndr := harness.Maildir(t, s.data("hub-hq1"), alice)[0]; !strings.Contains(ndr, "5.4.4") {
		t.Errorf("NDR:\n%s", ndr)
	}
	s.submit("hub-hq2", "alice@contoso.test", "bob@contoso.test", "hello bob")
	s.waitFor("Alice's message in Bob's Maildir", func() bool { return len(harness.Maildir(t, s.data("hub-branch"), bob)) == 1 })
	s.submit("hub-branch", "bob@contoso.test", "team@contoso.test", "hello team")
	s.waitFor("Bob's message to the team in Alice's Maildir", func() bool { return len(harness.Maildir(t, s.data("hub-hq1"), alice)) == 2 })
}

// TestCheckpasswordLDAP: waypost checkpassword, as Dovecot runs it,
// checks passwords by LDAP bind: the mail attribute and an SMTP proxy
// address log in, a wrong password is refused (1), and with slapd down
// the answer is a temporary failure (111), not a refusal.
func TestCheckpasswordLDAP(t *testing.T) {
	ldap := harness.StartSlapd(t, ldapPeople("hub1", "hub1"))
	dir := t.TempDir()
	file := filepath.Join(dir, "org.toml")
	harness.Write(t, file, `
[organization]
default_domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
[[accepted_domain]]
domain = "contoso.test"
`+ldapSection(t, ldap, dir))
	login := func(user, password string) (int, string) {
		t.Helper()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "%s\x00%s\x00", user, password)
		w.Close()
		cmd := exec.Command(harness.Binary(t), "checkpassword", "--config", file, "--server", "hub1")
		cmd.ExtraFiles = []*os.File{r} // file descriptor 3
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err = cmd.Run()
		r.Close()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String() + errOut.String()
	}
	for _, tc := range []struct{ user, home string }{
		{"alice@contoso.test", "alice@contoso.test"},
		{"Bob@Contoso.test", "bob@contoso.test"},
	} {
		code, out := login(tc.user, "pw")
		if code != 0 || !strings.Contains(out, "USER="+tc.home+"\n") || !strings.Contains(out, filepath.Join("mailboxes", tc.home)) {
			t.Errorf("login of %s: exit %d\n%s", tc.user, code, out)
		}
	}
	if code, out := login("alice@contoso.test", "wrong"); code != 1 {
		t.Errorf("wrong password: exit %d, want 1\n%s", code, out)
	}
	ldap.Stop()
	if code, out := login("alice@contoso.test", "pw"); code != 111 {
		t.Errorf("slapd down: exit %d, want 111\n%s", code, out)
	}
}
