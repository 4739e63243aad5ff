package smtpd

import (
	"errors"
	"fmt"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/dkim"
	"github.com/waypost/waypost/internal/dnstest"
)

// fabrikamZone is the DNS of an outside domain whose SPF allows only
// 192.0.2.1 (so mail from loopback fails SPF) and whose DMARC policy is
// policy; it publishes the key of selector s1.
func fabrikamZone(t *testing.T, policy string) (*dnstest.Zone, *dkim.Signer) {
	k, err := dkim.Generate("ed25519")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := dkim.Record("fabrikam.test", "s1", k)
	if err != nil {
		t.Fatal(err)
	}
	z := dnstest.Start(t,
		`fabrikam.test. 60 IN TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`_dmarc.fabrikam.test. 60 IN TXT "v=DMARC1; p=`+policy+`"`,
		strings.Replace(rec, " IN TXT ", " 60 IN TXT ", 1))
	return z, dkim.NewSigner([]dkim.Key{{Domain: "fabrikam.test", Selector: "s1", Signer: k}})
}

// sendFrom sends content from bob@fabrikam.test and returns the error
// of the end of data.
func sendFrom(t *testing.T, h *harness, content string) error {
	t.Helper()
	c, err := smtp.Dial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mail.fabrikam.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("bob@fabrikam.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("alice@contoso.test"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, content)
	return w.Close()
}

const fromBob = "From: Bob <bob@fabrikam.test>\r\nTo: alice@contoso.test\r\nSubject: hi\r\n\r\nHello Alice.\r\n"

func senderAuthMode(m string) func(*config.ReceiveConnector) {
	return func(rc *config.ReceiveConnector) { rc.SenderAuth = m }
}

// TestSenderAuthTag: in tag mode a message from a p=reject domain that
// fails SPF is accepted with one Authentication-Results field first,
// saying so; a field that claims this server's authserv-id is removed and
// one of another server is kept.
func TestSenderAuthTag(t *testing.T) {
	t.Parallel()
	z, _ := fabrikamZone(t, "reject")
	h := start(t, "Default", nil, func(l *Listener) { l.SetResolver(z.Resolver()) })
	forged := "Authentication-Results: hub-hq.contoso.test; spf=pass smtp.mailfrom=fabrikam.test;\r\n\tdmarc=pass header.from=fabrikam.test\r\n" +
		"Authentication-Results: mx.elsewhere.test; spf=pass\r\n"
	if err := sendFrom(t, h, forged+fromBob); err != nil {
		t.Fatalf("tag mode refused: %v", err)
	}
	msgs := h.q.all()
	if len(msgs) != 1 {
		t.Fatalf("%d messages queued", len(msgs))
	}
	body := msgs[0].body
	want := "Authentication-Results: hub-hq.contoso.test;\r\n\tspf=fail smtp.mailfrom=fabrikam.test;\r\n\tdkim=none;\r\n\tdmarc=fail header.from=fabrikam.test\r\nReceived: "
	if !strings.HasPrefix(body, want) {
		t.Errorf("message starts\n%q\nwant\n%q", body, want)
	}
	if strings.Count(body, "Authentication-Results: hub-hq.contoso.test") != 1 || !strings.Contains(body, "\r\nAuthentication-Results: mx.elsewhere.test; spf=pass\r\nFrom: Bob") {
		t.Errorf("the forged field is not removed, or the other one is not kept:\n%s", body)
	}
	if !z.Asked("fabrikam.test. TXT") || !z.Asked("_dmarc.fabrikam.test. TXT") {
		t.Error("SPF and DMARC were not looked up on the server's DNS")
	}
}

// TestSenderAuthEnforce: in enforce mode the same message is refused with
// 550 5.7.1 naming DMARC and nothing is queued; signed by its domain
// (DKIM aligned) it passes DMARC though SPF fails; p=quarantine is
// delivered with the failure in the field.
func TestSenderAuthEnforce(t *testing.T) {
	t.Parallel()
	z, signer := fabrikamZone(t, "reject")
	h := start(t, "Default", senderAuthMode("enforce"), func(l *Listener) { l.SetResolver(z.Resolver()) })
	err := sendFrom(t, h, fromBob)
	var se *textproto.Error
	if !errors.As(err, &se) || se.Code != 550 || !strings.HasPrefix(se.Msg, "5.7.1 ") || !strings.Contains(se.Msg, "DMARC") || !strings.Contains(se.Msg, "fabrikam.test") {
		t.Fatalf("end of data: %v, want 550 5.7.1 naming DMARC", err)
	}
	if n := len(h.q.all()); n != 0 {
		t.Fatalf("%d messages queued after the refusal", n)
	}
	sig, err := signer.Sign(strings.NewReader(fromBob))
	if err != nil || sig == "" {
		t.Fatalf("signing: %q %v", sig, err)
	}
	if err := sendFrom(t, h, sig+fromBob); err != nil {
		t.Fatalf("a message with an aligned DKIM signature: %v", err)
	}
	msgs := h.q.all()
	if len(msgs) != 1 || !strings.Contains(msgs[0].body, "\tdkim=pass header.d=fabrikam.test;\r\n\tdmarc=pass header.from=fabrikam.test\r\n") || !strings.Contains(msgs[0].body, "spf=fail") {
		t.Fatalf("%d queued: %v", len(msgs), msgs)
	}

	zq, _ := fabrikamZone(t, "quarantine")
	hq := start(t, "Default", senderAuthMode("enforce"), func(l *Listener) { l.SetResolver(zq.Resolver()) })
	if err := sendFrom(t, hq, fromBob); err != nil {
		t.Fatalf("p=quarantine refused: %v", err)
	}
	if msgs := hq.q.all(); len(msgs) != 1 || !strings.Contains(msgs[0].body, "dmarc=fail header.from=fabrikam.test") {
		t.Fatalf("p=quarantine: %v", msgs)
	}
}

// TestSenderAuthTimeout: a DNS server that does not answer for the
// sender's domain makes temperror within the 3 s budget: accepted and
// tagged in tag mode, 451 4.7.1 in enforce mode; sender_auth off adds
// nothing and asks nothing.
func TestSenderAuthTimeout(t *testing.T) {
	t.Parallel()
	z, _ := fabrikamZone(t, "reject")
	z.Silence("fabrikam.test")
	z.Silence("_dmarc.fabrikam.test")
	tag := start(t, "Default", nil, func(l *Listener) { l.SetResolver(z.Resolver()) })
	enforce := start(t, "Default", senderAuthMode("enforce"), func(l *Listener) { l.SetResolver(z.Resolver()) })
	done := make(chan error, 1)
	go func() { done <- sendFrom(t, enforce, fromBob) }()
	if err := sendFrom(t, tag, fromBob); err != nil {
		t.Fatalf("tag mode refused on a timeout: %v", err)
	}
	if msgs := tag.q.all(); len(msgs) != 1 || !strings.Contains(msgs[0].body, "spf=temperror") || !strings.Contains(msgs[0].body, "dmarc=temperror") {
		t.Fatalf("tag mode: %v", msgs)
	}
	err := <-done
	var se *textproto.Error
	if !errors.As(err, &se) || se.Code != 451 || !strings.HasPrefix(se.Msg, "4.7.1 ") {
		t.Fatalf("enforce mode: %v, want 451 4.7.1", err)
	}
	if n := len(enforce.q.all()); n != 0 {
		t.Fatalf("%d queued in enforce mode", n)
	}

	zo := dnstest.Start(t)
	off := start(t, "Default", senderAuthMode("off"), func(l *Listener) { l.SetResolver(zo.Resolver()) })
	if err := sendFrom(t, off, fromBob); err != nil {
		t.Fatal(err)
	}
	if msgs := off.q.all(); len(msgs) != 1 || strings.Contains(msgs[0].body, "Authentication-Results") || zo.Asked("fabrikam.test. TXT") {
		t.Fatalf("sender_auth off: %v", msgs)
	}
}
