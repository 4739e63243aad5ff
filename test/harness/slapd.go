package harness

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Slapd is a private OpenLDAP server for one test: its own configuration
// and mdb database in a temporary folder, Waypost's schema
// (packaging/ldap/waypost.schema), the test's data loaded with slapadd, and
// a random loopback port. It runs as the current user.
type Slapd struct {
	t      testing.TB
	bin    string
	dir    string
	Addr   string // 127.0.0.1:port
	URL    string // ldap://127.0.0.1:port
	Base   string // the suffix, dc=contoso,dc=test
	TLSURL string // ldaps://127.0.0.1:port, with StartSlapdTLS
	CAFile string // the CA of the server's certificate, with StartSlapdTLS
	cmd    *exec.Cmd
	done   chan struct{}
	stderr *syncWriter
}

// Service account of every test directory: it may read everything;
// anonymous clients may only bind.
const (
	SlapdServiceDN       = "cn=waypost,ou=services,dc=contoso,dc=test"
	SlapdServicePassword = "service password"
	SlapdAdminDN         = "cn=admin,dc=contoso,dc=test" // the rootdn, to change data in a test
	SlapdAdminPassword   = "admin password"
)

// FindSlapd returns the slapd program, or skips the test when it is not
// installed, unless the CI variable is set (CI and scripts/test.sh install
// it: there a missing slapd is a failure).
func FindSlapd(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"slapd", "/usr/sbin/slapd"} {
		if bin, err := exec.LookPath(p); err == nil {
			return bin
		}
	}
	if os.Getenv("CI") == "" {
		t.Skip("slapd is not installed (apt-get install slapd ldap-utils; scripts/test.sh installs it): skipping the LDAP tests")
	}
	t.Fatal("slapd is not installed, and CI is set: scripts/test.sh installs it with apt-get (packages slapd and ldap-utils)")
	return ""
}

// StartSlapd starts a private slapd holding data (LDIF content records under
// dc=contoso,dc=test; the base entry and the service account are added
// first).
func StartSlapd(t testing.TB, data string) *Slapd {
	t.Helper()
	return startSlapd(t, data, false)
}

// StartSlapdTLS is StartSlapd with TLS: a certificate for 127.0.0.1 from
// a CA of its own (CAFile), StartTLS on URL, and TLS from the start on
// TLSURL (ldaps://).
func StartSlapdTLS(t testing.TB, data string) *Slapd {
	t.Helper()
	return startSlapd(t, data, true)
}

func startSlapd(t testing.TB, data string, withTLS bool) *Slapd {
	t.Helper()
	bin := FindSlapd(t)
	s := &Slapd{t: t, bin: bin, dir: t.TempDir(), Base: "dc=contoso,dc=test"}
	s.Addr = Port(t)
	s.URL = "ldap://" + s.Addr
	_, file, _, _ := runtime.Caller(0)
	schema := filepath.Join(filepath.Dir(file), "..", "..", "packaging", "ldap", "waypost.schema")
	if err := os.Mkdir(filepath.Join(s.dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include %s
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %s/slapd.pid
sizelimit 1000
database mdb
suffix "%s"
rootdn "%s"
rootpw "%s"
directory %s/db
maxsize 268435456
index objectClass eq
index mail,waypostProxyAddress eq,sub
index uid,cn eq
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="%s" read by users read by * none
`, schema, s.dir, s.Base, SlapdAdminDN, SlapdAdminPassword, s.dir, SlapdServiceDN)
	if withTLS {
		s.TLSURL = "ldaps://" + Port(t)
		s.CAFile = filepath.Join(s.dir, "ca.pem")
		cert, key := filepath.Join(s.dir, "server.pem"), filepath.Join(s.dir, "server.key")
		writeTestPKI(t, s.CAFile, cert, key)
		conf = fmt.Sprintf("TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n", s.CAFile, cert, key) + conf
	}
	Write(t, filepath.Join(s.dir, "slapd.conf"), conf)
	base := fmt.Sprintf(`dn: %s
objectClass: dcObject
objectClass: organization
o: Contoso
dc: contoso

dn: ou=services,%s
objectClass: organizationalUnit
ou: services

dn: %s
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: waypost
userPassword: %s

`, s.Base, s.Base, SlapdServiceDN, SSHA(SlapdServicePassword))
	Write(t, filepath.Join(s.dir, "data.ldif"), base+data)
	add := exec.Command(filepath.Join(filepath.Dir(bin), "slapadd"), "-f", filepath.Join(s.dir, "slapd.conf"), "-l", filepath.Join(s.dir, "data.ldif"))
	if _, err := os.Stat(add.Path); err != nil {
		add.Path = "/usr/sbin/slapadd"
	}
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start runs slapd (again, after Stop) and waits until it answers.
func (s *Slapd) Start() {
	s.t.Helper()
	s.stderr = &syncWriter{w: &bytes.Buffer{}}
	urls := s.URL + "/"
	if s.TLSURL != "" {
		urls += " " + s.TLSURL + "/"
	}
	s.cmd = exec.Command(s.bin, "-f", filepath.Join(s.dir, "slapd.conf"), "-h", urls, "-d", "0")
	s.cmd.Stderr = s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(s.cmd, s.done)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-s.done:
			s.t.Fatalf("slapd exited at start:\n%s", s.log())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("slapd not listening on %s after 15s:\n%s", s.Addr, s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops slapd (SIGTERM, then SIGKILL after 10 seconds) and waits for
// it to exit. It may be started again.
func (s *Slapd) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *Slapd) log() string {
	s.stderr.mu.Lock()
	defer s.stderr.mu.Unlock()
	return s.stderr.w.String()
}

// SSHA returns the {SSHA} userPassword value of password (salted SHA-1,
// which slapd checks on bind).
func SSHA(password string) string {
	salt := make([]byte, 8)
	rand.Read(salt)
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}

// LDIFLine is an LDIF line for a value: for an LDIF line: base64 ("attr:: ...") when it
// does not fit a plain line.
func LDIFLine(attr, value string) string {
	safe := value != "" && !strings.ContainsAny(value[:1], " :<") && !strings.HasSuffix(value, " ")
	for _, r := range value {
		if r < 0x20 || r > 0x7e {
			safe = false
		}
	}
	if safe {
		return attr + ": " + value + "\n"
	}
	return attr + ":: " + base64.StdEncoding.EncodeToString([]byte(value)) + "\n"
}

// writeTestPKI writes a new CA certificate, and a server certificate and
// key for 127.0.0.1 signed by it, as PEM files.
func writeTestPKI(t testing.TB, caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Waypost test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	caCert, _ := x509.ParseCertificate(caDER)
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	Write(t, caFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})))
	Write(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER})))
	Write(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
}
