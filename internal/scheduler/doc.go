// Package scheduler delivers what a hub's queue holds: it takes due
// recipients, routes each again with the current engine (so a
// configuration change reroutes queued mail), hands them to the delivery
// agent of their next hop, writes the results back, and queues the
// delivery status notifications of RFC 3461 (dsn.go). Retries follow the
// Exchange retry cycle and expiry the organization's message_expiration
// (interfaces.md section 1; exchange-semantics.md section 5.3). It also
// answers queue administration (admin.go; docs/operations.md "Queue administration"):
// list, retry, hold, release, reroute and remove.
package scheduler
