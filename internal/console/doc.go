// Package console is the web console of a hub (docs/operations.md,
// "Console"; docs/api.md, "Console"): HTML pages served on the API
// listener under /console/ for the administrators named in
// [organization] administrators. It shows what the hub's own code paths
// compute, never a second copy of it: the site map (topology), the
// address types of each site (routing's AddressTypes, the KB 955778
// contract of docs/design/interfaces.md section 4) beside what Exchange
// 2007 before SP1 UR7 advertised (scoped connectors left out,
// docs/design/exchange-semantics.md section 4.3), a route explained as
// `waypost route --explain` explains it, the queues with the scheduler's
// administration (retry, hold, release, reroute, discard of shadows, remove with or without a
// report, each written to the tracking log with the administrator's name
// as actor), the tracking log, and the organization file with its secrets
// masked.
//
// Sign-in is a form with a mailbox's address and password, checked and
// limited by the same login limiter as the HTTP API (package loginlimit);
// the session is an HttpOnly, SameSite=Strict cookie (Secure over TLS)
// that ends after 8 hours idle; every POST carries a CSRF token. Pages are
// html/template with embedded assets; the overview's numbers refresh by
// polling a JSON view every 2 seconds.
package console
