package hub

import (
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/routing"
)

// Passwords checks a user name (any SMTP address of a mailbox) and password
// against the directory's password hashes (bcrypt, from `waypost passwd`).
type Passwords struct {
	Engine *atomic.Pointer[routing.Engine]
}

// Authenticate returns the mailbox's primary SMTP address when user and
// password match. Unknown users cost a hash comparison too, so that the
// time taken does not tell which users exist.
func (p Passwords) Authenticate(user, password string) (string, bool) {
	ent := p.Engine.Load().Directory().Lookup(address.Address{Type: "SMTP", Value: strings.TrimSpace(user)})
	hash := dummyHash()
	if ent != nil && ent.Kind == directory.Mailbox && ent.PasswordHash != "" {
		hash = []byte(ent.PasswordHash)
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if err != nil || ent == nil || ent.Kind != directory.Mailbox || ent.PasswordHash == "" {
		return "", false
	}
	return ent.PrimarySMTP(), true
}

// dummyHash is compared against when the user is unknown. It is made on
// first use, not when the program starts, where every waypost command
// (client commands too) would pay for a bcrypt hash; only the first
// unknown user of a hub's life waits for it.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("waypost: no such user"), bcrypt.DefaultCost)
	return h
})

// HashPassword returns the bcrypt hash that `waypost passwd` prints.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}
