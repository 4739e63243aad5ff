package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MinRSABits is the smallest RSA key accepted: RFC 8301 section 3.2 has
// signers use at least 1024 bits and SHOULD use 2048; the big mailbox
// providers ask for 2048.
const MinRSABits = 2048

// LoadKey reads a private key from a PEM file: PKCS#8 ("PRIVATE KEY",
// RSA or Ed25519) or PKCS#1 ("RSA PRIVATE KEY"). Errors name the file.
func LoadKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the DKIM key: %w", err)
	}
	k, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("DKIM key %s: %w", path, err)
	}
	return k, nil
}

// ParseKey parses a PEM private key and checks that DKIM can use it.
func ParseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found; write the key as PEM (waypost dkim keygen does)")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block is %q; want \"PRIVATE KEY\" or \"RSA PRIVATE KEY\"", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the %s: %w", strings.ToLower(block.Type), err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < MinRSABits {
			return nil, fmt.Errorf("the RSA key has %d bits; DKIM keys need %d or more (RFC 8301 section 3.2)", bits, MinRSABits)
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("a %T key cannot sign DKIM; use RSA or Ed25519", key)
	}
}

// Algorithm is the k= tag of a key's DNS record: "rsa" or "ed25519".
func Algorithm(k crypto.Signer) string {
	if _, ok := k.Public().(ed25519.PublicKey); ok {
		return "ed25519"
	}
	return "rsa"
}

// CheckSelector checks a selector: one or more DNS labels (RFC 6376
// section 3.1), letters, digits and hyphens.
func CheckSelector(s string) error {
	if s == "" {
		return errors.New("the selector is empty")
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("selector %q has an empty or over-long label", s)
		}
		for i, r := range label {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' && i > 0 && i < len(label)-1
			if !ok {
				return fmt.Errorf("selector %q has %q, which a DNS label cannot (RFC 6376 section 3.1)", s, r)
			}
		}
	}
	return nil
}
