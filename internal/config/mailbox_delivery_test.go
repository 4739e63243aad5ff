package config

import "testing"

const mdBase = `[organization]
default_domain = "c.test"
[[site]]
name = "A"
`

func TestMailboxDeliveryBadValues(t *testing.T) {
	errs := parseErrs(t, mdBase+`[[server]]
name = "a1"
site = "A"
mailbox_delivery = { kind = "imap", address = "127.0.0.1:24" }
[[server]]
name = "a2"
site = "A"
mailbox_delivery = { kind = "lmtp" }
[[server]]
name = "a3"
site = "A"
mailbox_delivery = { kind = "lmtp", address = "localhost" }
[[server]]
name = "a4"
site = "A"
mailbox_delivery = { kind = "lmtp", address = "unix:" }
[[server]]
name = "a5"
site = "A"
mailbox_delivery = { kind = "maildir", address = "127.0.0.1:24" }
`)
	want(t, errs, 8, `unknown kind "imap"`)
	want(t, errs, 12, `kind "lmtp" has no address`)
	want(t, errs, 16, `"localhost" is not host:port`)
	want(t, errs, 20, `has no socket path`)
	want(t, errs, 24, `kind "maildir" takes no address`)
}

func TestMailboxDeliveryValues(t *testing.T) {
	dir := t.TempDir()
	org, err := Parse([]byte(`[organization]
default_domain = "c.test"
imap_host = "imap.c.test:993"
hub_secret_file = "hub.secret"
[[accepted_domain]]
domain = "c.test"
type = "authoritative"
[[site]]
name = "A"
[[server]]
name = "a1"
site = "A"
[[server]]
name = "a2"
site = "A"
mailbox_delivery = { kind = "lmtp", address = "127.0.0.1:24" }
[[server]]
name = "a3"
site = "A"
mailbox_delivery = { kind = "lmtp", address = "unix:/run/dovecot/lmtp" }
`), "org.toml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if org.IMAPHost != "imap.c.test:993" {
		t.Errorf("imap_host %q", org.IMAPHost)
	}
	want := []MailboxDelivery{{MailboxMaildir, ""}, {MailboxLMTP, "127.0.0.1:24"}, {MailboxLMTP, "unix:/run/dovecot/lmtp"}}
	for i, w := range want {
		if got := org.Servers[i].MailboxDelivery; got != w {
			t.Errorf("server %d: %+v, want %+v", i, got, w)
		}
	}
}

func TestIMAPHostBad(t *testing.T) {
	errs := parseErrs(t, `[organization]
default_domain = "c.test"
imap_host = "imap.c.test"
[[site]]
name = "A"
[[server]]
name = "a1"
site = "A"
`)
	want(t, errs, 3, `imap_host: "imap.c.test" is not host:port`)
}
