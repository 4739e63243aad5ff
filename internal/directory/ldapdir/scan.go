package ldapdir

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/waypost/waypost/internal/directory"
)

// scan runs a paged subtree search (RFC 2696, 200 a page) on a connection
// of its own (the server ties the pages to it, and f may look up group
// members through the pool meanwhile), calling f for each object until it
// returns false.
func (d *Dir) scan(filter string, attrs []string, f func(*ldap.Entry) (bool, error)) error {
	c, err := d.dial(true)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", directory.ErrUnavailable, d.cfg.URL, err)
	}
	defer c.Close() // also drops the server's paging state after an early stop
	paging := ldap.NewControlPaging(200)
	for {
		res, err := c.Search(ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			d.and(filter), attrs, []ldap.Control{paging}))
		if err != nil {
			return fmt.Errorf("%w: %s: %v", directory.ErrUnavailable, d.cfg.URL, err)
		}
		for _, le := range res.Entries {
			more, err := f(le)
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
		}
		pc, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(pc.Cookie) == 0 {
			return nil
		}
		paging.SetCookie(pc.Cookie)
	}
}

// recipients is the filter of every object with an address.
func (d *Dir) recipients() string {
	f := "(|(" + d.a.ProxyAddresses + "=*)"
	if d.a.Mail != "" {
		f += "(" + d.a.Mail + "=*)"
	}
	if d.a.LegacyDN != "" {
		f += "(" + d.a.LegacyDN + "=*)"
	}
	return f + ")"
}

// Walk implements directory.Directory: every object with an address, in
// the server's order.
func (d *Dir) Walk(f func(*directory.Entry) bool) error {
	return d.scan(d.recipients(), d.attrs(), func(le *ldap.Entry) (bool, error) {
		e, err := d.entry(le)
		if err != nil {
			return false, err
		}
		return f(e), nil
	})
}

// Entries implements directory.Directory.
func (d *Dir) Entries() []*directory.Entry {
	var out []*directory.Entry
	if d.Walk(func(e *directory.Entry) bool { out = append(out, e); return true }) != nil {
		return nil
	}
	return out
}

// EachWithType implements directory.Directory with a substring search on
// the proxy addresses ("TYPE:*"; for SMTP also mail, for EX also the
// legacy Exchange DN).
func (d *Dir) EachWithType(typ string, f func(*directory.Entry) bool) error {
	typ = strings.ToUpper(typ)
	filter := "(|(" + d.a.ProxyAddresses + "=" + ldap.EscapeFilter(typ) + ":*)"
	switch {
	case typ == "SMTP" && d.a.Mail != "":
		filter += "(" + d.a.Mail + "=*)"
	case typ == "EX" && d.a.LegacyDN != "":
		filter += "(" + d.a.LegacyDN + "=*)"
	}
	filter += ")"
	return d.scan(filter, d.attrs(), func(le *ldap.Entry) (bool, error) {
		e, err := d.entry(le)
		if err != nil {
			return false, err
		}
		for _, p := range e.Addresses {
			if p.Type == typ {
				return f(e), nil
			}
		}
		return true, nil // a value that is not TYPE:address
	})
}

// typesLifetime is how long Types keeps its answer: the whole directory
// is read to compute it.
func (d *Dir) typesLifetime() time.Duration { return max(d.cfg.Cache, 30*time.Second) }

// Types implements directory.Directory. It reads the addresses of every
// recipient (a paged search) and keeps the answer for the cache lifetime,
// at least 30 seconds; while the server cannot be asked it gives the last
// answer with the error.
func (d *Dir) Types() ([]string, string, error) {
	d.typesMu.Lock()
	defer d.typesMu.Unlock()
	if d.types != nil && time.Since(d.typesAt) < d.typesLifetime() {
		return d.types, d.typesVersion, nil
	}
	set := map[string]bool{}
	attrs := []string{d.a.ProxyAddresses}
	if d.a.Mail != "" {
		attrs = append(attrs, d.a.Mail)
	}
	if d.a.LegacyDN != "" {
		attrs = append(attrs, d.a.LegacyDN)
	}
	err := d.scan(d.recipients(), attrs, func(le *ldap.Entry) (bool, error) {
		for _, v := range le.GetEqualFoldAttributeValues(d.a.ProxyAddresses) {
			if p, err := directory.ParseProxy(v); err == nil {
				set[p.Type] = true
			}
		}
		if d.a.Mail != "" && len(le.GetEqualFoldAttributeValues(d.a.Mail)) > 0 {
			set["SMTP"] = true
		}
		if d.a.LegacyDN != "" && len(le.GetEqualFoldAttributeValues(d.a.LegacyDN)) > 0 {
			set["EX"] = true
		}
		return true, nil
	})
	if err != nil {
		if d.types == nil {
			return []string{}, directory.TypesVersion(nil), err
		}
		return d.types, d.typesVersion, err
	}
	types := make([]string, 0, len(set))
	for t := range set {
		types = append(types, t)
	}
	sort.Strings(types)
	d.types, d.typesVersion, d.typesAt = types, directory.TypesVersion(types), time.Now()
	return d.types, d.typesVersion, nil
}
