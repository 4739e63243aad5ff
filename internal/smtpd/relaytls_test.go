package smtpd

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/testcert"
)

// peerCert is the certificate a relay listener shows in its handshake.
func (c *client) peerCert() []byte {
	c.t.Helper()
	st := c.conn.(*tls.Conn).ConnectionState()
	if st.Version != tls.VersionTLS13 {
		c.t.Errorf("TLS version %x, want 1.3", st.Version)
	}
	return st.PeerCertificates[0].Raw
}

// Without relay_tls, the first start makes a self-signed certificate in
// the data folder (one PEM file, mode 0600) and later starts reuse it.
func TestRelaySelfSignedCertificate(t *testing.T) {
	org, err := config.Parse([]byte(testOrg), "test.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := org.Server("hub-hq")
	first, err := relayTLS(s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.DataDir, RelayCertFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	pem, _ := os.ReadFile(path)
	if !strings.Contains(string(pem), "PRIVATE KEY") || !strings.Contains(string(pem), "CERTIFICATE") {
		t.Errorf("%s:\n%s", path, pem)
	}
	again, err := relayTLS(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Certificates[0].Certificate[0], again.Certificates[0].Certificate[0]) {
		t.Error("a second start made a new certificate")
	}
	leaf, err := x509.ParseCertificate(again.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "hub-hq.contoso.test" || leaf.NotAfter.Year() != 9999 {
		t.Errorf("certificate for %q until %v", leaf.Subject.CommonName, leaf.NotAfter)
	}

	// The listener shows it.
	h := startRelay(t)
	c := h.hubHello()
	data, _ := os.ReadFile(filepath.Join(h.l.server.DataDir, RelayCertFile))
	pair, err := tls.X509KeyPair(data, data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.peerCert(), pair.Certificate[0]) {
		t.Error("the relay listener shows another certificate than the one in its data folder")
	}

	// A damaged file is an error that names it and the fix.
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := relayTLS(s); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "remove the file") {
		t.Errorf("damaged certificate: %v", err)
	}
}

// With relay_tls, the listener shows that certificate and makes none.
func TestRelayGivenCertificate(t *testing.T) {
	cert := testcert.New(t, "hub-hq.contoso.test")
	certFile, keyFile := cert.Files(t)
	h := serveRelayWith(t, func(s *config.Server) { s.RelayTLSCert, s.RelayTLSKey = certFile, keyFile })
	c := h.hubHello()
	if !bytes.Equal(c.peerCert(), cert.TLS.Certificate[0]) {
		t.Error("the relay listener does not show the relay_tls certificate")
	}
	if _, err := os.Stat(filepath.Join(h.l.server.DataDir, RelayCertFile)); !os.IsNotExist(err) {
		t.Errorf("a self-signed certificate was made too: %v", err)
	}
	c.prove("hub-hq", testSecret, "235 ")

	// A key that does not match: the listener does not start.
	other := testcert.New(t, "hub-hq.contoso.test")
	_, otherKey := other.Files(t)
	org, _ := config.Parse([]byte(testOrg), "test.toml", t.TempDir())
	s := org.Server("hub-hq")
	s.RelayTLSCert, s.RelayTLSKey = certFile, otherKey
	if _, err := relayTLS(s); err == nil || !strings.Contains(err.Error(), "relay_tls of server hub-hq") {
		t.Errorf("a relay listener with a mismatched key: %v", err)
	}
}

// serveRelayWith serves hub-hq's relay listener with its server changed
// by tweak first.
func serveRelayWith(t *testing.T, tweak func(*config.Server)) *harness {
	t.Helper()
	return serve(t, func(org *config.Org, eng func() *routing.Engine, q Queue, log *slog.Logger) (*Listener, error) {
		tweak(org.Server("hub-hq"))
		return NewRelay(org, "hub-hq", testSecret, eng, q, log)
	})
}
