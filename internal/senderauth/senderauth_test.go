package senderauth

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dmarc"

	"github.com/waypost/waypost/internal/dkim"
	"github.com/waypost/waypost/internal/dnstest"
)

// TestStripForged: fields claiming this authserv-id go, folded or not
// and whatever the case; others and the body stay.
func TestStripForged(t *testing.T) {
	in := "Authentication-Results: HUB1.contoso.test; spf=pass\r\n" +
		"Authentication-Results:\r\n\thub1.contoso.test 1; dmarc=pass\r\n" +
		"Authentication-Results: mx.other.test; spf=fail\r\n" +
		"Subject: x\r\n\r\nAuthentication-Results: hub1.contoso.test; in the body\r\n"
	b, err := io.ReadAll(StripForged(strings.NewReader(in), "hub1.contoso.test"))
	if err != nil {
		t.Fatal(err)
	}
	want := "Authentication-Results: mx.other.test; spf=fail\r\nSubject: x\r\n\r\nAuthentication-Results: hub1.contoso.test; in the body\r\n"
	if string(b) != want {
		t.Errorf("got\n%q\nwant\n%q", b, want)
	}
}

// TestAlignment: relaxed alignment takes a subdomain of the same
// organizational domain, strict does not; the public suffix is no
// organization.
func TestAlignment(t *testing.T) {
	for _, c := range []struct {
		d, from string
		mode    dmarc.AlignmentMode
		want    bool
	}{
		{"mail.fabrikam.test", "fabrikam.test", dmarc.AlignmentRelaxed, true},
		{"mail.fabrikam.test", "fabrikam.test", dmarc.AlignmentStrict, false},
		{"FABRIKAM.test.", "fabrikam.test", dmarc.AlignmentStrict, true},
		{"a.example.co.uk", "b.example.co.uk", "", true},
		{"example.co.uk", "other.co.uk", dmarc.AlignmentRelaxed, false},
		{"", "fabrikam.test", dmarc.AlignmentRelaxed, false},
	} {
		if got := aligned(c.d, c.from, c.mode); got != c.want {
			t.Errorf("aligned(%q, %q, %q) = %v", c.d, c.from, c.mode, got)
		}
	}
}

func check(t *testing.T, z *dnstest.Zone, in Input, msg string) *Verdict {
	t.Helper()
	c := &Checker{Resolver: z.Resolver(), AuthServID: "hub1.contoso.test"}
	return c.Check(context.Background(), in, strings.NewReader(msg))
}

// TestCheck: SPF of MAIL FROM, of HELO with a null sender; a subdomain
// without a record takes the organizational domain's sp=; a passing
// signature of the From domain passes DMARC though SPF fails; one moved
// to another From fails.
func TestCheck(t *testing.T) {
	k, _ := dkim.Generate("ed25519")
	rec, _ := dkim.Record("mail.fabrikam.test", "s1", k)
	z := dnstest.Start(t,
		`fabrikam.test. 60 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`mx.fabrikam.test. 60 IN TXT "v=spf1 -all"`,
		`_dmarc.fabrikam.test. 60 IN TXT "v=DMARC1; p=none; sp=reject"`,
		strings.Replace(rec, " IN TXT ", " 60 IN TXT ", 1))
	lo := net.ParseIP("127.0.0.1")

	v := check(t, z, Input{IP: lo, Helo: "mx.fabrikam.test", MailFrom: "bob@fabrikam.test"}, "From: bob@fabrikam.test\r\n\r\nhi\r\n")
	if v.SPF != authres.ResultPass || v.DMARC != authres.ResultPass || v.Policy != dmarc.PolicyNone {
		t.Errorf("aligned SPF pass: %+v", v)
	}
	v = check(t, z, Input{IP: lo, Helo: "mx.fabrikam.test"}, "From: bob@sales.fabrikam.test\r\n\r\nhi\r\n")
	if v.SPF != authres.ResultFail || !v.SPFHelo || v.SPFDomain != "mx.fabrikam.test" || v.DMARC != authres.ResultFail || v.Policy != dmarc.PolicyReject {
		t.Errorf("null sender, HELO failing SPF, subdomain under sp=reject: %+v", v)
	}
	if f := v.Field("hub1.contoso.test"); !strings.Contains(f, "spf=fail smtp.helo=mx.fabrikam.test;") {
		t.Errorf("field %q", f)
	}
	msg := "From: bob@sales.fabrikam.test\r\nSubject: signed\r\n\r\nhi\r\n"
	sig, err := dkim.NewSigner([]dkim.Key{{Domain: "mail.fabrikam.test", Selector: "s1", Signer: k}}).Sign(strings.NewReader(strings.Replace(msg, "sales.", "mail.", 1)))
	if err != nil {
		t.Fatal(err)
	}
	// the signature is of a message whose From is mail.fabrikam.test; put
	// it on one from sales.fabrikam.test: it fails, the body hash matches
	// but the From does not.
	v = check(t, z, Input{IP: net.ParseIP("192.0.2.9"), Helo: "x", MailFrom: "bob@fabrikam.test"}, sig+msg)
	if len(v.DKIM) != 1 || v.DKIM[0].Value != authres.ResultFail || v.DMARC != authres.ResultFail {
		t.Errorf("a signature moved to another From: %+v", v)
	}
	good := strings.Replace(msg, "sales.", "mail.", 1)
	v = check(t, z, Input{IP: net.ParseIP("192.0.2.9"), Helo: "x", MailFrom: "bob@fabrikam.test"}, sig+good)
	if len(v.DKIM) != 1 || v.DKIM[0].Value != authres.ResultPass || v.SPF != authres.ResultFail || v.DMARC != authres.ResultPass {
		t.Errorf("an aligned DKIM pass with SPF failing: %+v", v)
	}
}

// TestPanicReachesTheCaller: a panic inside a goroutine of Check is
// raised again on the caller's goroutine (where the SMTP session recovers
// it), not left to end the process.
func TestPanicReachesTheCaller(t *testing.T) {
	z := dnstest.Start(t)
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "senderauth:") {
			t.Errorf("recovered %v", p)
		}
	}()
	// a nil IP makes blitiri's SPF return PermError, so panic through the
	// resolver: a Resolver whose Dial panics.
	r := z.Resolver()
	r.Dial = func(context.Context, string, string) (net.Conn, error) { panic("resolver") }
	c := &Checker{Resolver: r, AuthServID: "hub1.contoso.test"}
	c.Check(context.Background(), Input{IP: net.ParseIP("127.0.0.1"), Helo: "x", MailFrom: "bob@fabrikam.test"}, strings.NewReader("From: bob@fabrikam.test\r\n\r\nhi\r\n"))
	t.Error("Check returned")
}
