package directory

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/waypost/waypost/internal/address"
)

// LookupKeys returns the normalised keys under which every store finds the
// owner of a (address.Key: the type upper case, the value folded as its
// type says: SMTP and every other type case-insensitively, X400 in its
// canonical attribute order, FAX without written separators), and alt, a
// second key tried when the first finds nothing: for EX, the X500 proxy with
// the same value (exchange-semantics.md section 7); "" otherwise.
func LookupKeys(a address.Address) (key, alt string) {
	key = a.Key()
	if strings.HasPrefix(key, "EX:") {
		alt = "X500:" + key[len("EX:"):]
	}
	return key, alt
}

// TypesVersion is the version Types reports for a sorted list of types:
// equal lists give equal versions.
func TypesVersion(types []string) string {
	sum := sha256.Sum256([]byte(strings.Join(types, "\n")))
	return hex.EncodeToString(sum[:8])
}

// ParseProxy reads a proxy address as directories write it, TYPE:address;
// an upper-case type prefix ("SMTP:" rather than "smtp:") marks the
// primary address of its type.
func ParseProxy(s string) (Proxy, error) {
	a, err := address.ParseTyped(s)
	if err != nil {
		return Proxy{}, err
	}
	i := strings.IndexByte(s, ':')
	p := strings.TrimSpace(s[:max(i, 0)])
	return Proxy{Address: a, Primary: i > 0 && p == strings.ToUpper(p)}, nil
}

// ServerName reads a mailbox's home server as directories write it: the
// server name itself ("hub-hq"), an Exchange legacy DN whose last cn= is the
// server ("/o=Contoso/ou=Exchange Administrative Group/cn=Configuration/
// cn=Servers/cn=HUB-HQ", as msExchHomeServerName holds it), or an LDAP DN
// whose first cn= is ("cn=hub-hq,cn=Servers,dc=contoso,dc=test").
func ServerName(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "/") {
		// ASCII case folding only: strings.ToLower may change the length
		// of text that is not valid UTF-8, and the index must fit v.
		for i := len(v) - 4; i >= 0; i-- {
			if v[i] == '/' && (v[i+1]|0x20) == 'c' && (v[i+2]|0x20) == 'n' && v[i+3] == '=' {
				return v[i+4:]
			}
		}
		return v
	}
	if k, rest, ok := strings.Cut(v, "="); ok && strings.EqualFold(strings.TrimSpace(k), "cn") {
		name, _, _ := strings.Cut(rest, ",")
		return strings.TrimSpace(name)
	}
	return v
}
