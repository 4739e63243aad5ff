package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDirectoryDefaults(t *testing.T) {
	org, err := Parse([]byte(base), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if org.Directory.Backend != BackendFile || org.Directory.LDAP != nil {
		t.Errorf("without [directory]: %+v", org.Directory)
	}
	org, err = Parse([]byte(base+"[directory]\nbackend = \"Embedded\"\n"), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if org.Directory.Backend != BackendEmbedded {
		t.Errorf("backend %q", org.Directory.Backend)
	}
	dir := t.TempDir()
	org, err = Parse([]byte(base+`[directory]
backend = "ldap"
[directory.ldap]
url = "ldap://127.0.0.1:3389"
start_tls = true
base_dn = "dc=contoso,dc=test"
bind_dn = "cn=waypost,dc=contoso,dc=test"
bind_password_file = "ldap.secret"
schema = "openldap"
cache = "0s"
[directory.ldap.attributes]
home_server = "exchangeHome"
`), "org.toml", dir)
	if err != nil {
		t.Fatal(err)
	}
	l := org.Directory.LDAP
	if l == nil || l.BindPasswordFile != filepath.Join(dir, "ldap.secret") || l.PoolSize != DefaultLDAPPoolSize || l.Timeout != DefaultLDAPTimeout ||
		l.Cache != 0 || l.NegativeCache != DefaultLDAPNegativeCache || !l.StartTLS {
		t.Fatalf("ldap read wrongly: %+v", l)
	}
	if a := l.Attributes; a.HomeServer != "exchangeHome" || a.ProxyAddresses != "waypostProxyAddress" || a.GroupClass != "groupOfNames" || a.Mail != "mail" {
		t.Errorf("attributes: %+v", a)
	}
	org, _ = Parse([]byte(base+"[directory]\nbackend = \"ldap\"\n[directory.ldap]\nurl = \"ldaps://dc1:636\"\nbase_dn = \"dc=c\"\ntimeout = \"2s\"\n"), "org.toml", dir)
	if a := org.Directory.LDAP.Attributes; a.ProxyAddresses != "proxyAddresses" || a.HomeServer != "msExchHomeServerName" || a.LegacyDN != "legacyExchangeDN" || org.Directory.LDAP.Timeout != 2*time.Second {
		t.Errorf("Active Directory defaults: %+v", a)
	}
}

func TestDirectoryErrors(t *testing.T) {
	errs := parseErrs(t, base+`[directory]
backend = "sql"
`)
	want(t, errs, 11, `unknown directory backend "sql"`)
	errs = parseErrs(t, base+`[directory]
backend = "ldap"
`)
	want(t, errs, 11, `needs a [directory.ldap] section`)
	errs = parseErrs(t, base+`[directory]
backend = "ldap"
[directory.ldap]
url = "http://dc1:389"
base_dn = "contoso"
bind_dn = "cn=waypost"
schema = "novell"
pool_size = 0
timeout = "forever"
filter = "objectClass=person"
bogus = 1
[directory.ldap.attributes]
member = "mem ber"
`)
	want(t, errs, 13, `is not ldap://host:port`)
	want(t, errs, 14, `base_dn "contoso" is not a DN`)
	want(t, errs, 12, `only one of bind_dn and bind_password_file`)
	want(t, errs, 16, `unknown LDAP schema "novell"`)
	want(t, errs, 17, `pool_size 0 is out of range`)
	want(t, errs, 18, `"forever" is not a duration`)
	want(t, errs, 19, `is not an LDAP filter`)
	want(t, errs, 20, `unknown key "bogus" in [directory.ldap]`)
	want(t, errs, 22, `"mem ber" is not an LDAP attribute name`)
	errs = parseErrs(t, base+`[directory]
backend = "embedded"
[directory.ldap]
url = "ldaps://dc1:636"
start_tls = true
`)
	want(t, errs, 12, `[directory.ldap] is set but the backend is "embedded"`)
}

func TestDirectoryCheckFiles(t *testing.T) {
	dir := t.TempDir()
	org, err := Parse([]byte(base+`data_dir = "data"
[directory]
backend = "ldap"
[directory.ldap]
url = "ldap://127.0.0.1:389"
base_dn = "dc=contoso,dc=test"
bind_dn = "cn=waypost,dc=contoso,dc=test"
bind_password_file = "missing.secret"
ca_file = "ca.pem"
`), "org.toml", dir)
	if err != nil {
		t.Fatal(err)
	}
	err = CheckFiles(org)
	if err == nil || !strings.Contains(err.Error(), "LDAP bind password file") || !strings.Contains(err.Error(), "LDAP CA file") {
		t.Fatalf("CheckFiles: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "missing.secret"), []byte("pw\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("x"), 0o600)
	if err := CheckFiles(org); err != nil {
		t.Errorf("CheckFiles with the files there: %v", err)
	}
}
