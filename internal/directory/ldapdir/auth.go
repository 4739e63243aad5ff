package ldapdir

import (
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/waypost/waypost/internal/directory"
)

// Authenticate implements directory.Directory by binding as the user: the
// user name is a mailbox's SMTP address (a proxy address or mail) or its
// login attribute (userPrincipalName, uid); the bind uses a connection of
// its own, never the pooled service connections. An empty password is
// refused before any bind (an empty simple bind is an anonymous one,
// RFC 4513 section 5.1.2).
func (d *Dir) Authenticate(user, password string) (*directory.Entry, error) {
	user = strings.TrimSpace(user)
	if user == "" || password == "" {
		return nil, fmt.Errorf("%w: empty user name or password", directory.ErrBadCredentials)
	}
	v := d.escape("user name", user)
	filter := "(|(" + d.a.ProxyAddresses + "=SMTP:" + v + ")"
	if d.a.Mail != "" {
		filter += "(" + d.a.Mail + "=" + v + ")"
	}
	if d.a.Login != "" {
		filter += "(" + d.a.Login + "=" + v + ")"
	}
	filter = d.and(filter + ")")
	var found []*ldap.Entry
	err := d.with(func(c *ldap.Conn) error {
		res, err := c.Search(ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, int(d.cfg.Timeout.Seconds()), false,
			filter, d.attrs(), nil))
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return err
		}
		if res != nil {
			found = res.Entries
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%w: %d directory objects match the user name", directory.ErrBadCredentials, len(found))
	}
	e, err := d.entry(found[0])
	if err != nil {
		return nil, err
	}
	if e.Kind != directory.Mailbox {
		return nil, fmt.Errorf("%w: %s is not a mailbox", directory.ErrBadCredentials, found[0].DN)
	}
	c, err := d.dial(false)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", directory.ErrUnavailable, d.cfg.URL, err)
	}
	defer c.Close()
	if err := c.Bind(found[0].DN, password); err != nil {
		if broken(err) {
			return nil, fmt.Errorf("%w: %s: %v", directory.ErrUnavailable, d.cfg.URL, err)
		}
		return nil, fmt.Errorf("%w: %v", directory.ErrBadCredentials, err)
	}
	return e, nil
}
