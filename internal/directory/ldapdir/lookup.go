package ldapdir

import (
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/mailtext"
)

// attrs are the attributes every search asks for.
func (d *Dir) attrs() []string {
	out := []string{"objectClass", "cn"}
	for _, a := range []string{d.a.ProxyAddresses, d.a.Mail, d.a.Target, d.a.HomeServer, d.a.Member, d.a.Name, d.a.LegacyDN} {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

// escape is ldap.EscapeFilter that logs values carrying filter syntax:
// no address or user name needs them, so they are most likely an attempt
// to change the filter. The escaped value
// matches only itself.
func (d *Dir) escape(what, v string) string {
	e := ldap.EscapeFilter(v)
	if strings.ContainsAny(v, "()*\\\x00") {
		d.log.Warn("LDAP filter characters in a looked-up value, escaped: a possible injection attempt", "what", what, "value", mailtext.Printable(v, 200))
	}
	return e
}

// and adds the configured filter to f.
func (d *Dir) and(f string) string {
	if d.cfg.Filter == "" {
		return f
	}
	return "(&" + f + d.cfg.Filter + ")"
}

// filter is the search filter that finds the owner of a: a proxy address
// of a's type and value; for SMTP also mail; for EX also an X500 proxy and
// the legacy Exchange DN (exchange-semantics.md section 7).
func (d *Dir) filter(a address.Address) string {
	typ, v := strings.ToUpper(strings.TrimSpace(a.Type)), d.escape("address", strings.TrimSpace(a.Value))
	t := ldap.EscapeFilter(typ) // a type is a token already; escaped all the same
	var b strings.Builder
	b.WriteString("(|(" + d.a.ProxyAddresses + "=" + t + ":" + v + ")")
	switch typ {
	case "SMTP":
		if d.a.Mail != "" {
			b.WriteString("(" + d.a.Mail + "=" + v + ")")
		}
	case "EX":
		b.WriteString("(" + d.a.ProxyAddresses + "=X500:" + v + ")")
		if d.a.LegacyDN != "" {
			b.WriteString("(" + d.a.LegacyDN + "=" + v + ")")
		}
	}
	b.WriteString(")")
	return d.and(b.String())
}

// Find implements directory.Directory.
func (d *Dir) Find(a address.Address) (*directory.Entry, error) {
	key, _ := directory.LookupKeys(a)
	if c, ok := d.cache.get("a:" + key); ok {
		return c.e, nil
	}
	var found *ldap.Entry
	err := d.with(func(c *ldap.Conn) error {
		res, err := c.Search(ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, int(d.cfg.Timeout.Seconds()), false,
			d.filter(a), d.attrs(), nil))
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return err
		}
		if res != nil && len(res.Entries) > 0 {
			found = res.Entries[0]
			if len(res.Entries) > 1 {
				d.log.Warn("LDAP: two directory objects have one address; the first is used", "address", a.String(), "first", res.Entries[0].DN, "second", res.Entries[1].DN)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var e *directory.Entry
	if found != nil {
		if e, err = d.entry(found); err != nil {
			return nil, err
		}
	}
	d.cache.put("a:"+key, cached{e: e})
	return e, nil
}

// Lookup implements directory.Directory.
func (d *Dir) Lookup(a address.Address) *directory.Entry {
	e, _ := d.Find(a)
	return e
}

// entry makes a directory entry of an LDAP object: a group (of the group
// class) with its members' addresses, a contact (with a target), or a
// mailbox (with a home server, or without one: routing then refuses it as
// having no valid home server).
func (d *Dir) entry(le *ldap.Entry) (*directory.Entry, error) {
	e := &directory.Entry{ID: "ldap:" + le.DN, Kind: directory.Mailbox}
	hasPrimarySMTP := false
	for _, v := range le.GetEqualFoldAttributeValues(d.a.ProxyAddresses) {
		p, err := directory.ParseProxy(v)
		if err != nil {
			d.log.Debug("LDAP: a proxy address is not TYPE:address; skipped", "dn", le.DN, "value", mailtext.Printable(v, 200), "err", err)
			continue
		}
		hasPrimarySMTP = hasPrimarySMTP || p.Primary && p.Type == "SMTP"
		e.Addresses = append(e.Addresses, p)
	}
	if d.a.Mail != "" {
		for _, v := range le.GetEqualFoldAttributeValues(d.a.Mail) {
			_, addr, err := address.ParseSMTP(v)
			if err != nil {
				continue
			}
			p := directory.Proxy{Address: address.Address{Type: "SMTP", Value: addr}, Primary: !hasPrimarySMTP}
			if !hasAddress(e, p.Address) {
				e.Addresses = append(e.Addresses, p)
				hasPrimarySMTP = true
			}
		}
	}
	if d.a.LegacyDN != "" {
		for _, v := range le.GetEqualFoldAttributeValues(d.a.LegacyDN) {
			ex := address.Address{Type: "EX", Value: v}
			if !hasAddress(e, ex) {
				e.Addresses = append(e.Addresses, directory.Proxy{Address: ex})
			}
		}
	}
	e.Name = first(le, d.a.Name)
	if e.Name == "" {
		e.Name = first(le, "cn")
	}
	if e.Name == "" {
		e.Name = le.DN
	}
	isGroup := false
	for _, oc := range le.GetEqualFoldAttributeValues("objectClass") {
		isGroup = isGroup || strings.EqualFold(oc, d.a.GroupClass)
	}
	switch {
	case isGroup:
		e.Kind = directory.Group
		for _, dn := range le.GetEqualFoldAttributeValues(d.a.Member) {
			addr, err := d.memberAddress(dn)
			if err != nil {
				return nil, err
			}
			if addr == "" {
				d.log.Debug("LDAP: a group member has no address; skipped", "group", le.DN, "member", dn)
				continue
			}
			e.Members = append(e.Members, addr)
		}
	case first(le, d.a.Target) != "":
		e.Kind = directory.Contact
		t, err := address.Parse(first(le, d.a.Target), nil)
		if err == nil {
			e.Target = &t
		}
	default:
		e.Server = directory.ServerName(first(le, d.a.HomeServer))
	}
	return e, nil
}

// memberAddress is the address of the object dn names, as a group's member
// list holds it: its primary SMTP address, else its first address, else ""
// (also when there is no such object).
func (d *Dir) memberAddress(dn string) (string, error) {
	if c, ok := d.cache.get("m:" + dn); ok {
		return c.s, nil
	}
	var le *ldap.Entry
	err := d.with(func(c *ldap.Conn) error {
		res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, int(d.cfg.Timeout.Seconds()), false,
			d.and("(objectClass=*)"), []string{d.a.ProxyAddresses, d.a.Mail, d.a.LegacyDN}, nil))
		if ldap.IsErrorAnyOf(err, ldap.LDAPResultNoSuchObject, ldap.LDAPResultInvalidDNSyntax) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(res.Entries) > 0 {
			le = res.Entries[0]
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	addr := ""
	if le != nil {
		var firstAddr string
		for _, v := range le.GetEqualFoldAttributeValues(d.a.ProxyAddresses) {
			p, err := directory.ParseProxy(v)
			if err != nil {
				continue
			}
			if p.Type == "SMTP" && p.Primary {
				addr = p.Value
				break
			}
			if firstAddr == "" {
				firstAddr = p.String()
			}
		}
		if addr == "" && d.a.Mail != "" {
			addr = first(le, d.a.Mail)
		}
		if addr == "" {
			addr = firstAddr
		}
		if addr == "" && d.a.LegacyDN != "" && first(le, d.a.LegacyDN) != "" {
			addr = "EX:" + first(le, d.a.LegacyDN)
		}
	}
	d.cache.put("m:"+dn, cached{s: addr})
	return addr, nil
}

func hasAddress(e *directory.Entry, a address.Address) bool {
	k := a.Key()
	for _, p := range e.Addresses {
		if p.Key() == k {
			return true
		}
	}
	return false
}

func first(le *ldap.Entry, attr string) string {
	if attr == "" {
		return ""
	}
	if v := le.GetEqualFoldAttributeValues(attr); len(v) > 0 {
		return v[0]
	}
	return ""
}
