package dane

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Config returns the TLS configuration of STARTTLS with host under l's
// records: Go's own verification is off, and VerifyConnection accepts
// only a chain that one usable record matches (RFC 7672 section 3).
func Config(l Lookup, host string) *tls.Config {
	host = strings.TrimSuffix(host, ".")
	return &tls.Config{
		ServerName:         host,
		InsecureSkipVerify: true, // VerifyConnection does what DANE asks instead
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return Verify(l.Records, host, cs.PeerCertificates, time.Now())
		},
	}
}

// Verify checks the chain a server presented (leaf first) against the
// usable records: it passes when one record matches. DANE-EE(3): the leaf
// certificate or its public key matches, and neither its names nor its
// dates are checked (RFC 7672 section 3.1.1). DANE-TA(2): a certificate of
// the chain after the leaf matches, and the leaf chains to it, valid at
// now, with host among its names (RFC 7672 section 3.1.2 and 3.2.2).
func Verify(records []*dns.TLSA, host string, chain []*x509.Certificate, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("DANE: the server presented no certificate")
	}
	if len(records) == 0 {
		return errors.New("DANE: no usable TLSA record")
	}
	var taErr error
	for _, t := range records {
		switch t.Usage {
		case 3:
			if matches(t, chain[0]) {
				return nil
			}
		case 2:
			for i, c := range chain[1:] {
				if !matches(t, c) {
					continue
				}
				roots := x509.NewCertPool()
				roots.AddCert(c)
				inter := x509.NewCertPool()
				for _, m := range chain[1 : i+1] {
					inter.AddCert(m)
				}
				_, err := chain[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter, CurrentTime: now})
				if err == nil {
					return nil
				}
				taErr = err
			}
		}
	}
	if taErr != nil {
		return fmt.Errorf("DANE: the certificate chains to a trust anchor of a DANE-TA record but does not verify: %v", taErr)
	}
	return fmt.Errorf("DANE: no TLSA record matches the certificate of %s (%s)", host, describe(records))
}

// matches reports whether the record's association data is that of c,
// by its selector and matching type (RFC 6698 section 2.1).
func matches(t *dns.TLSA, c *x509.Certificate) bool {
	data, ok := association(c, t.Selector, t.MatchingType)
	want, err := hex.DecodeString(t.Certificate)
	return ok && err == nil && string(want) == string(data)
}

// association is the data of c that a record of selector and matching
// type holds: the certificate (0) or its public key (1), whole (0), or
// its SHA2-256 (1) or SHA2-512 (2) digest.
func association(c *x509.Certificate, selector, matching uint8) ([]byte, bool) {
	var data []byte
	switch selector {
	case 0:
		data = c.Raw
	case 1:
		data = c.RawSubjectPublicKeyInfo
	default:
		return nil, false
	}
	switch matching {
	case 0:
		return data, true
	case 1:
		s := sha256.Sum256(data)
		return s[:], true
	case 2:
		s := sha512.Sum512(data)
		return s[:], true
	}
	return nil, false
}

// describe names the records, "3 1 1, 2 0 1", for an error.
func describe(records []*dns.TLSA) string {
	var parts []string
	for _, t := range records {
		parts = append(parts, fmt.Sprintf("%d %d %d", t.Usage, t.Selector, t.MatchingType))
	}
	return strings.Join(parts, ", ")
}

// Record returns the association data of c for a record of selector and
// matching type, in hex: what an administrator publishes after "3 1 1"
// (RFC 6698 section 2.1), and what tests serve.
func Record(c *x509.Certificate, selector, matching uint8) string {
	data, _ := association(c, selector, matching)
	return hex.EncodeToString(data)
}
