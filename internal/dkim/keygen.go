package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
)

// Generate makes a new key: "rsa" (2048 bits) or "ed25519" (RFC 8463).
func Generate(algorithm string) (crypto.Signer, error) {
	switch algorithm {
	case "", "rsa":
		return rsa.GenerateKey(rand.Reader, MinRSABits)
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	default:
		return nil, fmt.Errorf("unknown algorithm %q; use rsa or ed25519", algorithm)
	}
}

// WriteKey writes k as PKCS#8 PEM to a new file of mode 0600; an existing
// file is not overwritten (it may be the key that DNS publishes).
func WriteKey(path string, k crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("encoding the key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing the DKIM key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("writing the DKIM key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing the DKIM key %s: %w", path, err)
	}
	return f.Close()
}

// RecordValue is the value of the DKIM key record (RFC 6376 section
// 3.6.1): "v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo>" for RSA, and for
// Ed25519 the raw 32-byte public key (RFC 8463 section 4.2).
func RecordValue(k crypto.Signer) (string, error) {
	var p []byte
	switch pub := k.Public().(type) {
	case ed25519.PublicKey:
		p = pub
	default:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("encoding the public key: %w", err)
		}
		p = der
	}
	return fmt.Sprintf("v=DKIM1; k=%s; p=%s", Algorithm(k), base64.StdEncoding.EncodeToString(p)), nil
}

// Record is the zone file line to publish for the key of domain and
// selector: the value in quoted strings of at most 255 characters each
// (a TXT record's character strings, RFC 1035 section 3.3.14; a verifier
// joins them, RFC 6376 section 3.6.2.2).
func Record(domain, selector string, k crypto.Signer) (string, error) {
	v, err := RecordValue(k)
	if err != nil {
		return "", err
	}
	var parts []string
	for len(v) > 255 {
		parts = append(parts, `"`+v[:255]+`"`)
		v = v[255:]
	}
	parts = append(parts, `"`+v+`"`)
	return fmt.Sprintf("%s._domainkey.%s. IN TXT %s", selector, strings.TrimSuffix(domain, "."), strings.Join(parts, " ")), nil
}
