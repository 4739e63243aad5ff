package smtpd

import (
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/loginlimit"
	"github.com/waypost/waypost/internal/status"
)

// Lockouts after failed AUTH (docs/operations.md, "Password guessing"):
// per session here, per address and per account in package loginlimit.

var (
	replyAuthTooMany = reply(status.ReplyNotAvailable, status.SecurityTransient, "Too many failed authentication attempts, closing connection")
	replyAuthLockout = reply(status.ReplyNotAvailable, status.SecurityTransient, "Too many failed authentication attempts from your address, try again later")
	// replyAccountLocked refuses AUTH at an account locked by failures
	// from many addresses, to an address it never logged in from; the
	// password is not checked (loginlimit).
	replyAccountLocked = reply(status.ReplyTempAuthFailure, status.SecurityTransient, "Too many failed authentication attempts for this account, try again later")
)

// LoginPolicy is the login limiter policy of a receive connector: its
// max_auth_failures_per_ip, auth_failure_window and auth_lockout, and the
// per-account count of package loginlimit (off with the per-address one).
func LoginPolicy(rc *config.ReceiveConnector) loginlimit.Policy {
	p := loginlimit.Policy{MaxPerAddr: rc.MaxAuthFailuresPerIP, Window: rc.AuthFailureWindow, Lockout: rc.AuthLockout}
	if p.MaxPerAddr > 0 {
		p.MaxPerAccount = loginlimit.DefaultMaxPerAccount
	}
	return p
}

// SetLoginLimiter makes the listener count failed AUTH in lim, shared
// with other listeners or services, instead of its own. Call it before
// Serve. Lockouts are then reported by lim's OnLockout only.
func (l *Listener) SetLoginLimiter(lim *loginlimit.Limiter) { l.logins = lim }
