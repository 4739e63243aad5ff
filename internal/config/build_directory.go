package config

import (
	"net"
	"net/url"
	"strings"
	"time"
)

// Defaults of [directory.ldap].
const (
	DefaultLDAPPoolSize      = 4
	DefaultLDAPTimeout       = 5 * time.Second
	DefaultLDAPCache         = 30 * time.Second
	DefaultLDAPNegativeCache = 5 * time.Second
)

func buildDirectory(c *collector, org *Org, r *rawDirectory) {
	org.Directory.Backend = strings.ToLower(strings.TrimSpace(orDefault(r.Backend, BackendFile)))
	switch org.Directory.Backend {
	case BackendFile, BackendEmbedded:
		if r.LDAP != nil {
			c.add("directory.ldap", `remove [directory.ldap], or set backend = "ldap"`, "[directory.ldap] is set but the backend is %q", org.Directory.Backend)
		}
	case BackendLDAP:
		if r.LDAP == nil {
			c.add("directory.backend", `add [directory.ldap] with url = "ldap://dc1.contoso.test:389" and base_dn = "dc=contoso,dc=test"`, `backend "ldap" needs a [directory.ldap] section`)
			return
		}
		org.Directory.LDAP = buildLDAP(c, org, r.LDAP)
	default:
		c.add("directory.backend", `use "embedded" (a store in each hub's data folder), "ldap" (LDAP or Active Directory) or "file" (only the [[recipient]] entries)`, "unknown directory backend %q", r.Backend)
	}
}

func buildLDAP(c *collector, org *Org, r *rawLDAP) *LDAP {
	const p = "directory.ldap"
	l := &LDAP{URL: strings.TrimSpace(r.URL), StartTLS: r.StartTLS, ServerName: r.ServerName, BindDN: strings.TrimSpace(r.BindDN),
		BaseDN: strings.TrimSpace(r.BaseDN), Filter: strings.TrimSpace(r.Filter)}
	if r.CAFile != "" {
		l.CAFile = abs(org.Dir, r.CAFile)
	}
	if r.BindPasswordFile != "" {
		l.BindPasswordFile = abs(org.Dir, r.BindPasswordFile)
	}
	u, err := url.Parse(l.URL)
	switch {
	case l.URL == "":
		c.add(p, `add url = "ldap://dc1.contoso.test:389" (or "ldaps://...:636")`, "[directory.ldap] has no url")
	case err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" || u.Path != "" && u.Path != "/":
		c.add(p+".url", `write ldap://host:port or ldaps://host:port, e.g. "ldap://127.0.0.1:389"`, "LDAP url %q is not ldap://host:port or ldaps://host:port", r.URL)
	default:
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
			c.add(p+".url", `add the port: ldap://host:389 or ldaps://host:636`, "LDAP url %q has no port", r.URL)
		}
		if u.Scheme == "ldaps" && l.StartTLS {
			c.add(p+".start_tls", `remove start_tls: ldaps:// is TLS from the start`, "start_tls with an ldaps:// url")
		}
	}
	if l.BaseDN == "" {
		c.add(p, `add base_dn = "dc=contoso,dc=test"`, "[directory.ldap] has no base_dn")
	} else if !looksLikeDN(l.BaseDN) {
		c.add(p+".base_dn", `write a DN such as "dc=contoso,dc=test"`, "base_dn %q is not a DN", r.BaseDN)
	}
	if (l.BindDN == "") != (l.BindPasswordFile == "") {
		c.add(p, `give both bind_dn and bind_password_file (the service account), or neither to bind anonymously`, "[directory.ldap] has only one of bind_dn and bind_password_file")
	} else if l.BindDN != "" && !looksLikeDN(l.BindDN) && !strings.Contains(l.BindDN, "@") {
		c.add(p+".bind_dn", `write a DN such as "cn=waypost,ou=services,dc=contoso,dc=test" (or a user principal name for Active Directory)`, "bind_dn %q is not a DN", r.BindDN)
	}
	if l.Filter != "" && (!strings.HasPrefix(l.Filter, "(") || !strings.HasSuffix(l.Filter, ")") || strings.Count(l.Filter, "(") != strings.Count(l.Filter, ")")) {
		c.add(p+".filter", `write an LDAP filter in parentheses, e.g. "(!(userAccountControl:1.2.840.113556.1.4.803:=2))"`, "filter %q is not an LDAP filter", r.Filter)
	}
	l.Schema = orDefault(r.Schema, SchemaActiveDirectory)
	def, ok := LDAPDefaults[l.Schema]
	if !ok {
		c.add(p+".schema", `use "active_directory" or "openldap" (the schema in packaging/ldap/waypost.ldif)`, "unknown LDAP schema %q", r.Schema)
	}
	a := r.Attributes
	l.Attributes = LDAPAttributes{
		ProxyAddresses: orDefault(a.ProxyAddresses, def.ProxyAddresses),
		Mail:           orDefault(a.Mail, def.Mail),
		Target:         orDefault(a.Target, def.Target),
		HomeServer:     orDefault(a.HomeServer, def.HomeServer),
		Member:         orDefault(a.Member, def.Member),
		Name:           orDefault(a.Name, def.Name),
		Login:          orDefault(a.Login, def.Login),
		GroupClass:     orDefault(a.GroupClass, def.GroupClass),
		LegacyDN:       orDefault(a.LegacyDN, def.LegacyDN),
	}
	for _, kv := range [][2]string{{"proxy_addresses", a.ProxyAddresses}, {"mail", a.Mail}, {"target", a.Target}, {"home_server", a.HomeServer},
		{"member", a.Member}, {"name", a.Name}, {"login", a.Login}, {"group_class", a.GroupClass}, {"legacy_dn", a.LegacyDN}} {
		if kv[1] != "" && !isAttrName(kv[1]) {
			c.add(p+".attributes."+kv[0], "write an attribute name (letters, digits and '-', starting with a letter) or an OID", "attribute name %q is not an LDAP attribute name", kv[1])
		}
	}
	l.PoolSize = intOr(r.PoolSize, DefaultLDAPPoolSize)
	if l.PoolSize < 1 || l.PoolSize > 64 {
		c.add(p+".pool_size", "use 1 to 64 connections (default 4)", "pool_size %d is out of range", l.PoolSize)
	}
	l.Timeout = durationOr(c, p+".timeout", r.Timeout, DefaultLDAPTimeout, 100*time.Millisecond, 5*time.Minute)
	l.Cache = durationOr(c, p+".cache", r.Cache, DefaultLDAPCache, 0, time.Hour)
	l.NegativeCache = durationOr(c, p+".negative_cache", r.NegativeCache, DefaultLDAPNegativeCache, 0, time.Hour)
	return l
}

// looksLikeDN reports whether s has the shape attr=value[,attr=value...].
func looksLikeDN(s string) bool {
	for _, rdn := range strings.Split(s, ",") {
		k, _, ok := strings.Cut(rdn, "=")
		if !ok || !isAttrName(strings.TrimSpace(k)) {
			return false
		}
	}
	return true
}

func isAttrName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9', r == '-' && i > 0, r == '.' && i > 0:
		default:
			return false
		}
	}
	return true
}

// checkDirectoryFiles is CheckFiles for [directory].
func checkDirectoryFiles(c *collector, org *Org) {
	l := org.Directory.LDAP
	if l == nil {
		return
	}
	if l.BindPasswordFile != "" {
		if err := readable(l.BindPasswordFile); err != nil {
			c.add("directory.ldap.bind_password_file", "create the file with the service account's password on its first line", "LDAP bind password file: %v", err)
		}
	}
	if l.CAFile != "" {
		if err := readable(l.CAFile); err != nil {
			c.add("directory.ldap.ca_file", "give a PEM file of the CA certificates that signed the LDAP server's certificate", "LDAP CA file: %v", err)
		}
	}
}

// DirectoryServer is the server whose data folder holds the embedded
// directory that a command without --server uses: the first server of
// site, or of the organization when site is "".
func (o *Org) DirectoryServer(site string) *Server {
	for _, s := range o.Servers {
		if site == "" || fold(s.Site) == fold(site) {
			return s
		}
	}
	return nil
}
