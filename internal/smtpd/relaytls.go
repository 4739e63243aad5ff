package smtpd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/durable"
)

// The relay listener's certificate (docs/operations.md, "Hub to hub"):
// the one the organization file gives (server.relay_tls), or a
// self-signed one that the hub makes at its first start in its data
// folder and reuses after. Peers do not check it against a CA: the hub
// secret pins the TLS channel (package hubauth, RFC 9266), so a
// self-signed certificate is as good as any, and it never expires.

// RelayCertFile is the self-signed certificate and its key, in one PEM
// file (mode 0600), in a server's data folder.
const RelayCertFile = "relay-tls.pem"

// relayTLS is the TLS configuration of s's relay listener. Hubs speak TLS
// 1.3 to each other: RFC 9266 defines tls-exporter for it.
func relayTLS(s *config.Server) (*tls.Config, error) {
	var (
		cert tls.Certificate
		err  error
	)
	if s.RelayTLSCert != "" {
		cert, err = tls.LoadX509KeyPair(s.RelayTLSCert, s.RelayTLSKey)
		if err != nil {
			err = fmt.Errorf("relay_tls of server %s: %w", s.Name, err)
		}
	} else {
		cert, err = relaySelfSigned(s)
	}
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}, nil
}

// relaySelfSigned reads the certificate in s's data folder, making it first
// when there is none.
func relaySelfSigned(s *config.Server) (tls.Certificate, error) {
	if s.DataDir == "" {
		return tls.Certificate{}, fmt.Errorf("server %s has no data folder for its relay certificate", s.Name)
	}
	path := filepath.Join(s.DataDir, RelayCertFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if b, err = makeSelfSigned(s); err == nil {
			if err = durable.MkdirAll(durable.OS, s.DataDir, 0o700); err == nil {
				err = durable.WriteFile(path, b, 0o600)
			}
		}
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("relay certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(b, b)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("relay certificate %s: %w; remove the file to have a new one made", path, err)
	}
	return cert, nil
}

// makeSelfSigned makes an ECDSA P-256 certificate for s's name and FQDN,
// with no end (RFC 5280 section 4.1.2.5: 99991231235959Z), and returns
// its key and certificate as PEM.
func makeSelfSigned(s *config.Server) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	names := []string{s.FQDN}
	if s.Name != s.FQDN {
		names = append(names, s.Name)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: s.FQDN, Organization: []string{"Waypost hub relay"}},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...), nil
}
