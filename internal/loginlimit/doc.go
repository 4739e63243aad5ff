// Package loginlimit limits password guessing for every service of a hub
// that checks passwords (SMTP AUTH, the HTTP API; later Dovecot's
// checkpassword and the web console), as Exchange's account lockout and
// Dovecot's auth penalty do, on two counts:
//
//   - Per client address (an IPv4 address, or the /64 of an IPv6 one):
//     MaxPerAddr failures within Window lock the address out for Lockout
//     (Postfix's anvil, Exchange's per-IP throttling).
//   - Per account (the mailbox the user name resolves to, with Resolve, so
//     that every proxy address of a mailbox counts as one account; else the
//     name as written, case folded): MaxPerAccount
//     failures within Window, from any addresses, lock the account for
//     Lockout, so that an attacker with many addresses gets no unlimited
//     guesses at one mailbox. A locked account refuses logins from
//     addresses it never logged in from, without checking the password; a
//     login from an address it logged in from before (within KnownFor) is
//     only delayed by KnownDelay and then checked, so that a stranger
//     cannot lock the real user out.
//
// A hub has one Limiter, shared by all its services (every receive
// connector's SMTP AUTH, the relay login, the HTTP API), so that failures
// at one count at the others (docs/operations.md, "Password guessing").
//
// Every lockout is logged and reported to OnLockout (the hub counts it in
// /metrics as waypost_login_lockouts_total{service, kind}). A service asks
// Check(service, account, addr) before it checks a password, obeys the
// Attempt (refuse, or wait Delay), then tells the outcome with
// Attempt.Result(ok). The state is in memory and bounded; a restart
// forgets it.
package loginlimit
