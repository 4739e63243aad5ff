package config

import (
	"fmt"
	"strings"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/directory"
)

func buildRecipients(c *collector, org *Org, raws []rawRecipient) {
	owner := map[string]string{} // address key -> recipient name
	for i, r := range raws {
		path := fmt.Sprintf("recipient[%d]", i)
		if !checkName(c, path, "recipient", r.Name) {
			continue
		}
		who := fmt.Sprintf("%s %q", orDefault(r.Kind, "recipient"), r.Name)
		e := &directory.Entry{ID: fmt.Sprintf("file:%d", i), Kind: directory.Kind(r.Kind), Name: r.Name, PasswordHash: r.PasswordHash}
		switch e.Kind {
		case directory.Mailbox:
			if s := org.Server(r.Server); s != nil {
				e.Server = s.Name
			} else if r.Server == "" {
				c.add(path, `add server = "<home server>"`, "%s has no home server", who)
			} else {
				c.add(path+".server", "name one of the [[server]] entries", "%s names unknown server %q", who, r.Server)
			}
		case directory.Contact:
			if r.Target == "" {
				c.add(path, `add target = "FAX:+1 555 0100" (any address type)`, "%s has no target", who)
			} else if t, err := address.Parse(r.Target, nil); err != nil {
				c.add(path+".target", `write an address such as "FAX:+1 555 0100" or "bob@fabrikam.test"`, "%s: target %q: %v", who, r.Target, err)
			} else {
				e.Target = &t
			}
		case directory.Group:
			for j, m := range r.Members {
				if _, err := address.Parse(m, nil); err != nil {
					c.add(fmt.Sprintf("%s.members[%d]", path, j), "write the member's address, e.g. alice@contoso.test", "%s: member %q: %v", who, m, err)
					continue
				}
				e.Members = append(e.Members, m)
			}
		default:
			c.add(path+".kind", `use kind = "mailbox", "contact" or "group"`, "recipient %q has unknown kind %q", r.Name, r.Kind)
			continue
		}
		if e.Kind != directory.Mailbox && r.Server != "" {
			c.add(path+".server", "remove server: only mailboxes have a home server", "%s has a server", who)
		}
		if e.Kind != directory.Contact && r.Target != "" {
			c.add(path+".target", "remove target: only contacts have one", "%s has a target", who)
		}
		if e.Kind != directory.Group && len(r.Members) > 0 {
			c.add(path+".members", "remove members: only groups have them", "%s has members", who)
		}
		if r.PasswordHash != "" && !knownHash(r.PasswordHash) {
			c.add(path+".password_hash", `paste the output of "waypost passwd" (a bcrypt or argon2id hash)`, "%s has a password_hash that is not bcrypt or argon2id", who)
		}
		if len(r.Addresses) == 0 {
			c.add(path, `add addresses = ["SMTP:name@<domain>"]`, "%s has no addresses", who)
		}
		for j, s := range r.Addresses {
			ap := fmt.Sprintf("%s.addresses[%d]", path, j)
			a, err := address.ParseTyped(s)
			if err != nil {
				c.add(ap, `write TYPE:address, e.g. "SMTP:alice@contoso.test" or "FAX:+1 555 0100"`, "%s: address %q: %v", who, s, err)
				continue
			}
			k := a.Key()
			if prev, dup := owner[k]; dup {
				if prev == r.Name {
					c.add(ap, "list each address once", "%s lists address %s twice", who, a)
				} else {
					c.add(ap, "an address belongs to one recipient: remove it from one of them", "address %s of %s is already an address of %q", a, who, prev)
				}
				continue
			}
			owner[k] = r.Name
			e.Addresses = append(e.Addresses, directory.Proxy{Address: a, Primary: isUpperPrefix(s)})
		}
		org.Recipients = append(org.Recipients, e)
	}
}

// isUpperPrefix reports whether the type prefix of a proxy address is
// written in upper case, which marks the primary address of that type.
func isUpperPrefix(s string) bool {
	i := strings.IndexByte(s, ':')
	return i > 0 && s[:i] == strings.ToUpper(s[:i])
}

func knownHash(h string) bool {
	for _, p := range []string{"$2a$", "$2b$", "$2y$", "$argon2id$"} {
		if strings.HasPrefix(h, p) {
			return true
		}
	}
	return false
}
