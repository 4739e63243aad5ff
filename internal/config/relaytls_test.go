package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/testcert"
)

const relayTLSOrg = `[organization]
default_domain = "c.test"
[[accepted_domain]]
domain = "c.test"
[[site]]
name = "A"
[[server]]
name = "a1"
site = "A"
relay = "127.0.0.1:2526"
relay_tls = { cert = "tls/relay.crt", key = "tls/relay.key" }
`

// relay_tls gives the relay listener's certificate, relative to the
// organization file; waypost check (CheckFiles) reads it and names the line.
func TestRelayTLS(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "org.toml")
	if err := os.WriteFile(path, []byte(relayTLSOrg), 0o644); err != nil {
		t.Fatal(err)
	}
	org, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s := org.Server("a1")
	if s.RelayTLSCert != filepath.Join(dir, "tls", "relay.crt") || s.RelayTLSKey != filepath.Join(dir, "tls", "relay.key") {
		t.Fatalf("relay_tls paths %q %q", s.RelayTLSCert, s.RelayTLSKey)
	}
	err = CheckFiles(org)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("want 1 file error, got %v", err)
	}
	if e := errs[0]; e.Line != 11 || !strings.Contains(e.Error(), `relay listener of server "a1"`) || !strings.Contains(e.Fix, "PEM certificate") {
		t.Errorf("certificate error: line %d: %v (fix %q)", e.Line, e, e.Fix)
	}

	// With the files there, nothing to say.
	cert := testcert.New(t, "a1.c.test")
	if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.RelayTLSCert, cert.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.RelayTLSKey, cert.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckFiles(org); err != nil {
		t.Errorf("CheckFiles with the certificate: %v", err)
	}

	// A key that is not the certificate's is refused.
	other := testcert.New(t, "a1.c.test")
	if err := os.WriteFile(s.RelayTLSKey, other.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckFiles(org); err == nil || !strings.Contains(err.Error(), "org.toml:11") {
		t.Errorf("CheckFiles with another key: %v", err)
	}
}

func TestRelayTLSErrors(t *testing.T) {
	errs := parseErrs(t, strings.Replace(relayTLSOrg, `key = "tls/relay.key" `, "", 1))
	want(t, errs, 11, "relay_tls needs both cert and key")
	errs = parseErrs(t, strings.Replace(relayTLSOrg, `relay = "127.0.0.1:2526"`, "", 1))
	want(t, errs, 11, "has relay_tls but no relay listener")
}
