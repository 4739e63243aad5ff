package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/test/harness"
)

// dovecotOrg is an organization with one hub, hub1, whose mailboxes
// (alice with the proxy address al@, bob, carol; password "pw" for each)
// go as mailbox says (a TOML inline table, "" for the default Maildir).
func dovecotOrg(t *testing.T, dir, smtpAddr, apiAddr, mailbox string) string {
	t.Helper()
	// The lowest bcrypt cost: Dovecot runs the race-enabled binary for
	// each login, and the default cost takes seconds there.
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	md := ""
	if mailbox != "" {
		md = "mailbox_delivery = " + mailbox
	}
	file := filepath.Join(dir, "org.toml")
	var recipients strings.Builder
	for _, r := range [][2]string{{"Alice", `"SMTP:alice@contoso.test", "smtp:al@contoso.test"`}, {"Bob", `"SMTP:bob@contoso.test"`}, {"Carol", `"SMTP:carol@contoso.test"`}} {
		fmt.Fprintf(&recipients, "[[recipient]]\nkind = \"mailbox\"\nname = %q\nserver = \"hub1\"\naddresses = [%s]\npassword_hash = %q\n", r[0], r[1], strings.TrimSpace(string(hash)))
	}
	harness.Write(t, file, fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
imap_host = "imap.contoso.test:993"
retry = { glitch_count = 15, glitch_interval = "1s" }
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
fqdn = "hub1.contoso.test"
api = %q
%s
  [[server.receive]]
  name = "Default"
  listen = %q
  kind = "smtp"
[[accepted_domain]]
domain = "contoso.test"
%s`, apiAddr, md, smtpAddr, recipients.String()))
	return file
}

// imapConn is a small IMAP4rev1 client (RFC 3501) for the tests: tagged
// commands, untagged lines and literals.
type imapConn struct {
	t   *testing.T
	c   net.Conn
	r   *bufio.Reader
	tag int
}

func dialIMAP(t *testing.T, addr string) *imapConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(90 * time.Second))
	ic := &imapConn{t: t, c: c, r: bufio.NewReader(c)}
	if line := ic.line(); !strings.HasPrefix(line, "* OK") {
		t.Fatalf("IMAP greeting %q", line)
	}
	return ic
}

// line reads one line, with any literals ({n} at the end of a line) it
// holds joined in.
func (ic *imapConn) line() string {
	ic.t.Helper()
	var b strings.Builder
	for {
		l, err := ic.r.ReadString('\n')
		if err != nil {
			ic.t.Fatalf("IMAP: %v after %q", err, b.String())
		}
		b.WriteString(l)
		l = strings.TrimRight(l, "\r\n")
		i := strings.LastIndexByte(l, '{')
		if i < 0 || !strings.HasSuffix(l, "}") {
			return b.String()
		}
		n, err := strconv.Atoi(l[i+1 : len(l)-1])
		if err != nil {
			return b.String()
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(ic.r, lit); err != nil {
			ic.t.Fatalf("IMAP literal: %v", err)
		}
		b.Write(lit)
	}
}

// cmd sends a command and returns the untagged lines and the tagged
// status line ("OK ...", "NO ...", "BAD ...").
func (ic *imapConn) cmd(format string, args ...any) ([]string, string) {
	ic.t.Helper()
	ic.tag++
	tag := fmt.Sprintf("a%d", ic.tag)
	fmt.Fprintf(ic.c, "%s %s\r\n", tag, fmt.Sprintf(format, args...))
	var untagged []string
	for {
		l := ic.line()
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			return untagged, strings.TrimRight(rest, "\r\n")
		}
		untagged = append(untagged, l)
	}
}

// inbox logs in as user, selects INBOX and returns every message in it
// (BODY.PEEK[]), or the failed status of LOGIN or SELECT.
func inbox(t *testing.T, addr, user, password string) ([]string, string) {
	t.Helper()
	ic := dialIMAP(t, addr)
	defer ic.c.Close()
	if _, st := ic.cmd("LOGIN %q %q", user, password); !strings.HasPrefix(st, "OK") {
		return nil, "LOGIN " + st
	}
	untagged, st := ic.cmd("SELECT INBOX")
	if !strings.HasPrefix(st, "OK") {
		return nil, "SELECT " + st
	}
	exists := 0
	for _, l := range untagged {
		if f := strings.Fields(l); len(f) == 3 && f[2] == "EXISTS" {
			exists, _ = strconv.Atoi(f[1])
		}
	}
	if exists == 0 {
		return nil, ""
	}
	untagged, st = ic.cmd("FETCH 1:* (BODY.PEEK[])")
	if !strings.HasPrefix(st, "OK") {
		t.Fatalf("FETCH: %s", st)
	}
	ic.cmd("LOGOUT")
	return untagged, ""
}

// waitInbox waits until user's INBOX holds a message containing text and
// returns that message. Each try is a login, which runs waypost
// checkpassword (the race-enabled binary): seconds on a busy machine.
func waitInbox(t *testing.T, d *harness.Dovecot, h *harness.Hub, user, text string) string {
	t.Helper()
	var found string
	deadline := time.Now().Add(time.Minute)
	for found == "" {
		msgs, st := inbox(t, d.IMAP, user, "pw")
		if st != "" {
			t.Fatalf("IMAP as %s: %s\n%s", user, st, d.Log())
		}
		for _, m := range msgs {
			if strings.Contains(m, text) {
				found = m
			}
		}
		if found == "" && time.Now().After(deadline) {
			t.Fatalf("no message with %q in the INBOX of %s over IMAP after a minute (%d messages)\nhub:\n%s\ndovecot:\n%s", text, user, len(msgs), h.Log(), d.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return found
}

// TestDovecotLMTP: a hub delivers its mailboxes to a real Dovecot over
// LMTP, and mail clients read them over IMAP with their Waypost passwords.
func TestDovecotLMTP(t *testing.T) {
	harness.FindDovecot(t)
	acct := harness.MailAccount(t)
	dir := acct.TempDir(t)
	smtpAddr, apiAddr := harness.Port(t), harness.Port(t)
	// The LMTP address is the Dovecot's, known once it has its ports:
	// write the file with a placeholder, then the real one.
	file := dovecotOrg(t, dir, smtpAddr, apiAddr, `{ kind = "lmtp", address = "127.0.0.1:1" }`)
	// A mailbox full at 100 KB refuses mail with 552 5.2.2 (RFC 3463):
	// the permanent per-recipient refusal of this test.
	d := harness.StartDovecot(t, harness.DovecotConfig{Account: acct, Config: file, Server: "hub1", Extra: `
mail_plugins = $mail_plugins quota
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=100K
}
`})
	text, _ := os.ReadFile(file)
	text = []byte(strings.Replace(string(text), "127.0.0.1:1", d.LMTP, 1))
	harness.Write(t, file, strings.Replace(string(text), "imap.contoso.test:993", d.IMAP, 1))
	h := acct.StartHub(t, file, "hub1", smtpAddr, apiAddr)

	// A mail client asks the hub where the IMAP server is: this Dovecot.
	resp, err := http.Get("http://" + apiAddr + "/.well-known/autoconfig/mail/config-v1.1.xml")
	if err != nil {
		t.Fatal(err)
	}
	var auto struct {
		Host string `xml:"emailProvider>incomingServer>hostname"`
		Port string `xml:"emailProvider>incomingServer>port"`
	}
	err = xml.NewDecoder(resp.Body).Decode(&auto)
	resp.Body.Close()
	imapAddr := net.JoinHostPort(auto.Host, auto.Port)
	if err != nil || imapAddr != d.IMAP {
		t.Fatalf("autoconfig: %v, IMAP server %s, want %s", err, imapAddr, d.IMAP)
	}

	// SMTP in, LMTP to Dovecot, IMAP out; the login is a proxy address.
	send := func(from string, to []string, subject, body string) {
		t.Helper()
		msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n%s\r\n", from, strings.Join(to, ">, <"), subject, body)
		if err := smtp.SendMail(smtpAddr, nil, from, to, []byte(msg)); err != nil {
			t.Fatalf("SMTP to %v: %v\n%s", to, err, h.Log())
		}
	}
	t.Log("hub and Dovecot up")
	send("dave@fabrikam.test", []string{"alice@contoso.test"}, "first", "over LMTP to Dovecot")
	got := waitInbox(t, d, h, "al@contoso.test", "over LMTP to Dovecot")
	if !strings.Contains(got, "Subject: first") || !strings.Contains(got, "Received: ") {
		t.Errorf("the message over IMAP:\n%s", got)
	}
	if _, st := inbox(t, imapAddr, "alice@contoso.test", "not the password"); !strings.HasPrefix(st, "LOGIN NO") {
		t.Errorf("IMAP LOGIN with a wrong password: %q, want NO", st)
	}
	if _, st := inbox(t, d.IMAP, "nobody@contoso.test", "pw"); !strings.HasPrefix(st, "LOGIN NO") {
		t.Errorf("IMAP LOGIN of an unknown address: %q, want NO", st)
	}

	t.Log("read over IMAP")
	// Bob's mailbox is nearly full; a message to Alice and Bob reaches
	// Alice, and Carol (the sender) gets a report naming Bob only.
	send("carol@contoso.test", []string{"bob@contoso.test"}, "filler", strings.Repeat(strings.Repeat("x", 76)+"\r\n", 1200))
	waitInbox(t, d, h, "bob@contoso.test", "Subject: filler")
	send("carol@contoso.test", []string{"alice@contoso.test", "bob@contoso.test"}, "to both", strings.Repeat(strings.Repeat("y", 76)+"\r\n", 300))
	waitInbox(t, d, h, "alice@contoso.test", "Subject: to both")
	ndr := waitInbox(t, d, h, "carol@contoso.test", "5.2.2")
	if !strings.Contains(ndr, "bob@contoso.test") || strings.Contains(ndr, "Final-Recipient: rfc822; alice@contoso.test") {
		t.Errorf("the report to Carol names Bob only:\n%s", ndr)
	}
	if msgs, _ := inbox(t, d.IMAP, "bob@contoso.test", "pw"); len(msgs) != 1 {
		t.Errorf("Bob's full mailbox holds %d messages, want the filler only", len(msgs))
	}

	t.Log("report for Bob")
	// Dovecot down: the message waits in queue mailbox:hub1 with the
	// reason, and is delivered once Dovecot is back.
	d.Stop()
	send("dave@fabrikam.test", []string{"alice@contoso.test"}, "while down", "waited in the queue")
	var q control.Queue
	harness.WaitFor(t, time.Minute, "mailbox:hub1 in the queue list with a last error", func() bool {
		for _, line := range strings.Split(strings.TrimSpace(waypostCmd(t, file, "queue", "list", "--json")), "\n") {
			var got control.Queue
			if json.Unmarshal([]byte(line), &got) == nil && got.Queue == "mailbox:hub1" && got.LastError != "" {
				q = got
				return true
			}
		}
		return false
	})
	if q.Messages != 1 || !strings.HasPrefix(q.LastStatus, "4.") || !strings.Contains(q.LastError, "connection refused") {
		t.Errorf("queue while Dovecot is down: %+v", q)
	}
	if text := waypostCmd(t, file, "queue", "list"); !strings.Contains(text, "mailbox:hub1") || !strings.Contains(text, "connect: connection") {
		t.Errorf("waypost queue list:\n%s", text)
	}
	t.Log("queued while Dovecot is down")
	d.Start()
	waitInbox(t, d, h, "alice@contoso.test", "waited in the queue")
}

// waypostCmd runs a waypost command for hub1 of the organization file and
// returns its standard output.
func waypostCmd(t *testing.T, file string, args ...string) string {
	t.Helper()
	args = append(args[:1:1], append([]string{"--config", file, "--server", "hub1"}, args[1:]...)...)
	cmd := exec.Command(harness.Binary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("waypost %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// TestDovecotMaildir: with the default mailbox_delivery (Maildir), Dovecot
// serves the Maildirs Waypost writes, with no second copy; the HTTP API
// still finds a message after Dovecot moved it to cur/, and a message the
// API deletes is gone for IMAP.
func TestDovecotMaildir(t *testing.T) {
	harness.FindDovecot(t)
	acct := harness.MailAccount(t)
	dir := acct.TempDir(t)
	smtpAddr, apiAddr := harness.Port(t), harness.Port(t)
	file := dovecotOrg(t, dir, smtpAddr, apiAddr, "")
	d := harness.StartDovecot(t, harness.DovecotConfig{Account: acct, Config: file, Server: "hub1"})
	h := acct.StartHub(t, file, "hub1", smtpAddr, apiAddr)
	msg := "From: <dave@fabrikam.test>\r\nSubject: in the Maildir\r\n\r\nwritten by Waypost\r\n"
	if err := smtp.SendMail(smtpAddr, nil, "dave@fabrikam.test", []string{"al@contoso.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data", "hub1")
	harness.WaitFor(t, 10*time.Second, "the message in Alice's Maildir", func() bool {
		return len(harness.Maildir(t, data, "alice@contoso.test")) == 1
	})
	waitInbox(t, d, h, "alice@contoso.test", "written by Waypost")

	// Dovecot took it into cur/ and marked it seen; the one file is
	// still there for the API.
	ic := dialIMAP(t, d.IMAP)
	ic.cmd(`LOGIN "alice@contoso.test" "pw"`)
	ic.cmd("SELECT INBOX")
	if _, st := ic.cmd(`STORE 1 +FLAGS (\Seen)`); !strings.HasPrefix(st, "OK") {
		t.Fatalf("STORE: %s", st)
	}
	ic.cmd("LOGOUT")
	cur, _ := filepath.Glob(filepath.Join(data, "mailboxes", "alice@contoso.test", "Maildir", "cur", "*:2,*S*"))
	news := harness.Maildir(t, data, "alice@contoso.test")
	if len(cur) != 1 || len(news) != 0 {
		t.Errorf("after IMAP: %d seen files in cur/, %d in new/; want the one message, moved", len(cur), len(news))
	}
	req, _ := http.NewRequest("GET", "http://"+apiAddr+"/api/v1/mailbox/messages", nil)
	req.SetBasicAuth("alice@contoso.test", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var list struct {
		Messages []struct{ ID, Subject string }
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Messages) != 1 || list.Messages[0].Subject != "in the Maildir" {
		t.Fatalf("the API's message list after Dovecot read it: %d %s", resp.StatusCode, body)
	}

	// Deleted through the API (waypost client), gone for IMAP too.
	req, _ = http.NewRequest("DELETE", "http://"+apiAddr+"/api/v1/mailbox/messages/"+list.Messages[0].ID, nil)
	req.SetBasicAuth("alice@contoso.test", "pw")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	if msgs, st := inbox(t, d.IMAP, "alice@contoso.test", "pw"); st != "" || len(msgs) != 0 {
		t.Errorf("IMAP after the API deleted the message: %q, %d messages", st, len(msgs))
	}
}

// TestDovecotLMTPSocket: LMTP over the fragment's unix socket, which only
// the hub's user may use.
func TestDovecotLMTPSocket(t *testing.T) {
	harness.FindDovecot(t)
	acct := harness.MailAccount(t)
	dir := acct.TempDir(t)
	smtpAddr, apiAddr := harness.Port(t), harness.Port(t)
	file := dovecotOrg(t, dir, smtpAddr, apiAddr, `{ kind = "lmtp", address = "unix:@SOCKET@" }`)
	d := harness.StartDovecot(t, harness.DovecotConfig{Account: acct, Config: file, Server: "hub1"})
	text, _ := os.ReadFile(file)
	harness.Write(t, file, strings.Replace(string(text), "@SOCKET@", d.Socket, 1))
	if fi, err := os.Stat(d.Socket); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the LMTP socket %s: %v %v", d.Socket, fi.Mode(), err)
	}
	h := acct.StartHub(t, file, "hub1", smtpAddr, apiAddr)
	msg := "From: <dave@fabrikam.test>\r\nSubject: by socket\r\n\r\nover the unix socket\r\n"
	if err := smtp.SendMail(smtpAddr, nil, "dave@fabrikam.test", []string{"bob@contoso.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	waitInbox(t, d, h, "bob@contoso.test", "over the unix socket")
}

// TestDovecotLDAP: with the recipients in a real slapd, Dovecot logs
// people in by LDAP bind through waypost checkpassword (Bob by his SMTP
// proxy address, the only address he has) and LMTP delivers to them.
func TestDovecotLDAP(t *testing.T) {
	harness.FindDovecot(t)
	ldap := harness.StartSlapd(t, ldapPeople("hub1", "hub1"))
	acct := harness.MailAccount(t)
	dir := acct.TempDir(t)
	smtpAddr := harness.Port(t)
	file := filepath.Join(dir, "org.toml")
	org := func(lmtp string) string {
		return fmt.Sprintf(`
[organization]
default_domain = "contoso.test"
retry = { glitch_count = 15, glitch_interval = "1s" }
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
mailbox_delivery = { kind = "lmtp", address = %q }
  [[server.receive]]
  name = "Default"
  listen = %q
  kind = "smtp"
[[accepted_domain]]
domain = "contoso.test"
`, lmtp, smtpAddr) + ldapSection(t, ldap, dir)
	}
	harness.Write(t, file, org("127.0.0.1:1"))
	d := harness.StartDovecot(t, harness.DovecotConfig{Account: acct, Config: file, Server: "hub1"})
	harness.Write(t, file, org(d.LMTP))
	h := acct.StartHub(t, file, "hub1", smtpAddr)
	msg := "From: <dave@fabrikam.test>\r\nSubject: to the team\r\n\r\nfrom the directory\r\n"
	if err := smtp.SendMail(smtpAddr, nil, "dave@fabrikam.test", []string{"team@contoso.test"}, []byte(msg)); err != nil {
		t.Fatalf("SMTP: %v\n%s", err, h.Log())
	}
	waitInbox(t, d, h, "bob@contoso.test", "from the directory")
	waitInbox(t, d, h, "alice@contoso.test", "from the directory")
	if _, st := inbox(t, d.IMAP, "bob@contoso.test", "not pw"); !strings.HasPrefix(st, "LOGIN NO") {
		t.Errorf("IMAP LOGIN with a wrong LDAP password: %q, want NO", st)
	}
}
