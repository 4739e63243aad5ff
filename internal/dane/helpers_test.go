package dane

import (
	"crypto/x509"
	"strconv"
	"testing"

	"github.com/miekg/dns"
	"github.com/waypost/waypost/internal/testcert"
)

type dnsTLSA = dns.TLSA

// parse reads one TLSA record's data ("3 1 1 hex").
func parse(t *testing.T, data string) []*dns.TLSA {
	t.Helper()
	rr, err := dns.NewRR("_25._tcp.mx.example.test. 60 IN TLSA " + data)
	if err != nil {
		t.Fatal(err)
	}
	return []*dns.TLSA{rr.(*dns.TLSA)}
}

func itoa(n uint8) string { return strconv.Itoa(int(n)) }

// leafChain is the chain a server with c presents, parsed.
func leafChain(c *testcert.Cert) []*x509.Certificate {
	var out []*x509.Certificate
	for _, der := range c.TLS.Certificate {
		x, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		out = append(out, x)
	}
	return out
}
