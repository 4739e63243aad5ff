package delivery

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/waypost/waypost/internal/dkim"
)

const signedBody = "From: Alice <alice@corp.test>\r\nTo: carol@first.test, dave@second.test\r\nSubject: quarterly\r\n" +
	"Message-ID: <q1@corp.test>\r\n\r\nThe figures.\r\n.a dot line\r\n"

// dkimSigner returns a signer with one Ed25519 key of corp.test and a
// lookup of its record for go-msgauth's verifier.
func dkimSigner(t *testing.T) (*dkim.Signer, func(string) ([]string, error)) {
	t.Helper()
	k, err := dkim.Generate("ed25519")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := dkim.RecordValue(k)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(name string) ([]string, error) {
		if name == "s1._domainkey.corp.test" {
			return []string{rec}, nil
		}
		return nil, errors.New("no record for " + name)
	}
	return dkim.NewSigner([]dkim.Key{{Domain: "corp.test", Selector: "s1", Signer: k}}), lookup
}

// verifyOne checks that body carries exactly one DKIM signature and that
// it verifies.
func verifyOne(t *testing.T, body string, lookup func(string) ([]string, error)) {
	t.Helper()
	if n := strings.Count(body, "DKIM-Signature:"); n != 1 {
		t.Fatalf("%d DKIM-Signature fields, want 1:\n%s", n, body)
	}
	vs, err := msgdkim.VerifyWithOptions(strings.NewReader(body), &msgdkim.VerifyOptions{LookupTXT: lookup})
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("verification: %v %+v", err, vs)
	}
}

// TestSMTPSignsOnce: a message to two domains by MX is signed once, each
// exchanger gets one signature that verifies, the content is read from
// the queue once to sign and once per transaction, and SIZE counts the
// signature.
func TestSMTPSignsOnce(t *testing.T) {
	d := startDNS(t)
	ts := startTestServer(t, "", false)
	d.addMX("first.test.", 10, "mx.first.test.")
	d.addMX("second.test.", 10, "mx.second.test.")
	d.addA("mx.first.test.", "mx.second.test.")
	a := mxAgent(d, ts)
	var lookup func(string) ([]string, error)
	a.DKIM, lookup = dkimSigner(t)
	m := message(signedBody, smtpTo("carol@first.test"), smtpTo("dave@second.test"))
	var opens atomic.Int32
	open := m.Open
	m.Open = func() (io.ReadCloser, error) { opens.Add(1); return open() }
	for _, r := range a.Deliver(context.Background(), m) {
		if r.Class != Relayed {
			t.Fatalf("%+v", r)
		}
	}
	if len(ts.got) != 2 {
		t.Fatalf("%d messages received, want 2", len(ts.got))
	}
	for _, g := range ts.got {
		verifyOne(t, g.body, lookup)
		if !strings.HasSuffix(g.body, signedBody) {
			t.Errorf("the content changed behind the signature:\n%s", g.body)
		}
		if g.mail.Size != int64(len(g.body)) {
			t.Errorf("SIZE=%d for %d bytes", g.mail.Size, len(g.body))
		}
	}
	if n := opens.Load(); n != 3 {
		t.Errorf("the content was opened %d times, want 3 (one to sign, one per transaction)", n)
	}
}

// TestSMTPSignsOnlyTheOrganizationsMail: a From of a domain without a
// key, and the hub relay, send the content unsigned.
func TestSMTPSignsOnlyTheOrganizationsMail(t *testing.T) {
	ts := startTestServer(t, "", false)
	signer, _ := dkimSigner(t)
	a := &SMTP{Hosts: []string{ts.addr}, Timeout: 5 * time.Second, DKIM: signer}
	other := strings.Replace(signedBody, "alice@corp.test", "alice@fabrikam.test", 1)
	if r := a.Deliver(context.Background(), message(other, smtpTo("x@first.test"))); r[0].Class != Relayed {
		t.Fatalf("%+v", r[0])
	}
	// The hub relay never signs: to a host that cannot be reached, it
	// does not even read the content (signing would, before connecting).
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	dead.Close()
	relay := &SMTP{Hosts: []string{dead.Addr().String()}, Timeout: time.Second, DKIM: signer, Hub: &HubAuth{Server: "hub-a", Secret: []byte("s")}}
	m := message(signedBody, smtpTo("x@first.test"))
	m.Open = func() (io.ReadCloser, error) {
		t.Error("the hub relay read the content to sign it")
		return nil, errors.New("no")
	}
	relay.Deliver(context.Background(), m)
	if len(ts.got) != 1 || ts.got[0].body != other {
		t.Fatalf("mail from another domain changed: %+v", ts.got)
	}
}

// TestSMTPSignReadFailure: a queue file that cannot be read to sign it
// is retried, not sent unsigned.
func TestSMTPSignReadFailure(t *testing.T) {
	ts := startTestServer(t, "", false)
	signer, _ := dkimSigner(t)
	a := &SMTP{Hosts: []string{ts.addr}, Timeout: 5 * time.Second, DKIM: signer}
	m := message(signedBody, smtpTo("x@first.test"))
	m.Open = func() (io.ReadCloser, error) { return nil, errors.New("queue file gone") }
	r := a.Deliver(context.Background(), m)
	if r[0].Class != Retry || r[0].Status != "4.3.0" || !strings.Contains(r[0].Text, "queue file gone") {
		t.Fatalf("%+v", r[0])
	}
	if len(ts.got) != 0 {
		t.Fatal("sent though unreadable")
	}
}
