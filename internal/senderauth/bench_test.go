package senderauth

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/dkim"
	"github.com/waypost/waypost/internal/dnstest"
)

// BenchmarkCheck is the cost of the checks of one inbound message of 4
// KiB signed with RSA 2048 by its From domain: SPF, the DKIM signature and
// DMARC, every record asked of a private DNS server on loopback (no
// cache: each message asks again, as the hub does).
func BenchmarkCheck(b *testing.B) {
	k, err := dkim.Generate("rsa")
	if err != nil {
		b.Fatal(err)
	}
	rec, _ := dkim.Record("fabrikam.test", "s1", k)
	z := dnstest.Start(b,
		`fabrikam.test. 60 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`_dmarc.fabrikam.test. 60 IN TXT "v=DMARC1; p=reject"`,
		strings.Replace(rec, " IN TXT ", " 60 IN TXT ", 1))
	msg := "From: bob@fabrikam.test\r\nTo: alice@contoso.test\r\nSubject: bench\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 62)
	sig, err := dkim.NewSigner([]dkim.Key{{Domain: "fabrikam.test", Selector: "s1", Signer: k}}).Sign(strings.NewReader(msg))
	if err != nil {
		b.Fatal(err)
	}
	msg = sig + msg
	c := &Checker{Resolver: z.Resolver(), AuthServID: "hub1.contoso.test"}
	in := Input{IP: net.ParseIP("127.0.0.1"), Helo: "mx.fabrikam.test", MailFrom: "bob@fabrikam.test"}
	b.ReportAllocs()
	for b.Loop() {
		v := c.Check(context.Background(), in, strings.NewReader(msg))
		if v.DMARC != "pass" || v.SPF != "pass" || len(v.DKIM) != 1 || v.DKIM[0].Value != "pass" {
			b.Fatalf("%+v", v)
		}
	}
}
