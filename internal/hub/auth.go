package hub

import (
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"

	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/routing"
)

// Passwords checks a user name (any SMTP address of a mailbox) and password
// against the directory of the current engine: the bcrypt hashes of the
// organization file and the embedded store (from `waypost passwd`), or a
// bind as the user for LDAP.
type Passwords struct {
	Engine *atomic.Pointer[routing.Engine]
}

// Authenticate returns the mailbox's primary SMTP address when user and
// password match.
func (p Passwords) Authenticate(user, password string) (string, bool) {
	m, err := p.Check(user, password)
	return m, err == nil
}

// Check is Authenticate that says why not: an error wrapping
// directory.ErrBadCredentials, or directory.ErrUnavailable when the
// directory could not be asked (SMTP answers 454 4.7.0, try again later).
//
// The user name is taken as written: one with blanks around it is not the
// trimmed name (a client that sends " alice@contoso.test" gets no login as
// alice@contoso.test, nor a lockout counted against her).
func (p Passwords) Check(user, password string) (string, error) {
	switch {
	case user == "":
		return "", fmt.Errorf("%w: no user name", directory.ErrBadCredentials)
	case user != strings.TrimSpace(user):
		return "", fmt.Errorf("%w: user name %q has blanks around it", directory.ErrBadCredentials, user)
	}
	ent, err := p.Engine.Load().Directory().Authenticate(user, password)
	if err != nil {
		return "", err
	}
	return ent.PrimarySMTP(), nil
}

// HashPassword returns the bcrypt hash that `waypost passwd` prints.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}
