package config

import (
	"fmt"
	"strings"

	"github.com/waypost/waypost/internal/directory"
)

// checkAdministrators checks [organization] administrators: each names a
// mailbox, by its name or one of its SMTP addresses, once. A name that is
// not among the file's recipients is an error when the file is the whole
// directory; with a directory backend it may be a mailbox there, which
// the hub looks up at sign-in.
func checkAdministrators(c *collector, org *Org) {
	seen := map[string]bool{}
	for i, name := range org.Administrators {
		path := fmt.Sprintf("organization.administrators[%d]", i)
		if strings.TrimSpace(name) == "" || name != strings.TrimSpace(name) {
			c.add(path, `write a mailbox's name or SMTP address, e.g. administrators = ["Carol"]`, "administrator %q is empty or has blanks around it", name)
			continue
		}
		if seen[fold(name)] {
			c.add(path, "name each administrator once", "administrator %q is listed twice", name)
			continue
		}
		seen[fold(name)] = true
		ent := AdministratorEntry(org.Recipients, name)
		switch {
		case ent != nil && ent.Kind != directory.Mailbox:
			c.add(path, "name a mailbox: only a mailbox has a password to sign in with", "administrator %q is a %s, not a mailbox", name, ent.Kind)
		case ent == nil && org.Directory.Backend == BackendFile:
			c.add(path, "name a [[recipient]] of kind \"mailbox\" by its name or SMTP address", "administrator %q is not a recipient of the organization", name)
		}
	}
}

// AdministratorEntry finds the recipient of entries that an administrator
// name designates: by name (case-insensitively), else by an SMTP address.
func AdministratorEntry(entries []*directory.Entry, name string) *directory.Entry {
	for _, e := range entries {
		if strings.EqualFold(e.Name, name) {
			return e
		}
	}
	for _, e := range entries {
		if IsAdministrator(e, []string{name}) {
			return e
		}
	}
	return nil
}

// IsAdministrator reports whether the mailbox e is one of admins: its
// name or one of its SMTP addresses is listed (case-insensitively).
func IsAdministrator(e *directory.Entry, admins []string) bool {
	if e == nil || e.Kind != directory.Mailbox {
		return false
	}
	for _, a := range admins {
		if strings.EqualFold(e.Name, a) {
			return true
		}
		for _, p := range e.Addresses {
			if p.Type == "SMTP" && strings.EqualFold(p.Value, a) {
				return true
			}
		}
	}
	return false
}
