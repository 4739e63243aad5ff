package hub

import (
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/loginlimit"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/smtpd"
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

// Mailbox returns the primary SMTP address of the mailbox a user name
// stands for (any of its SMTP addresses, as Check takes it), so that the
// login limiter counts guesses per mailbox (loginlimit.Limiter.Resolve). A
// name with blanks around it, or of no mailbox, resolves to nothing.
func (p Passwords) Mailbox(user string) (string, bool) {
	if user == "" || user != strings.TrimSpace(user) {
		return "", false
	}
	ent := p.Engine.Load().Directory().Lookup(address.Address{Type: "SMTP", Value: user})
	if ent == nil || ent.Kind != directory.Mailbox {
		return "", false
	}
	m := ent.PrimarySMTP()
	return m, m != ""
}

// newLoginLimiter returns the hub's one login limiter, shared by the SMTP
// AUTH of every receive connector that counts failures, the relay login and
// the HTTP API (docs/operations.md, "Password guessing"): failures at one
// count at the others, per address and per mailbox. Its policy is the
// strictest of those connectors (the smallest max_auth_failures_per_ip, the
// longest auth_failure_window and auth_lockout); with none, loginlimit's
// defaults.
func (h *Hub) newLoginLimiter() *loginlimit.Limiter {
	lim := loginlimit.New(loginPolicy(h.server), h.log)
	lim.OnLockout = h.metrics.LoginLockout
	lim.Resolve = Passwords{Engine: &h.engine}.Mailbox
	return lim
}

// loginPolicy is the policy of the hub's login limiter (newLoginLimiter).
func loginPolicy(s *config.Server) loginlimit.Policy {
	var p loginlimit.Policy
	found := false
	for _, rc := range s.Receive {
		if rc.MaxAuthFailuresPerIP <= 0 {
			continue // counts nothing (max_auth_failures_per_ip = 0)
		}
		q := smtpd.LoginPolicy(rc)
		if !found {
			p, found = q, true
			continue
		}
		p.MaxPerAddr = min(p.MaxPerAddr, q.MaxPerAddr)
		p.Window = max(p.Window, q.Window)
		p.Lockout = max(p.Lockout, q.Lockout)
	}
	if !found {
		return loginlimit.DefaultPolicy()
	}
	return p
}

// HashPassword returns the bcrypt hash that `waypost passwd` prints.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}
