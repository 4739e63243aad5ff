// Package hub runs one server of the organization: it wires the stages of
// the data flow together (receive, resolve, route, queue, deliver, report)
// around the durable queue. The scheduler here takes due recipients from
// the queue, routes each again with the current engine (so a configuration
// change reroutes queued mail), records the attempt before any delivery
// I/O, hands the recipients to the delivery agent of their next hop, and
// writes the results back; expiry follows the organization's
// message_expiration (interfaces.md section 1; exchange-semantics.md
// section 5.3). A running hub also answers its control socket (queue
// administration and reload, interfaces.md section 6), reloads the
// organization file live, and serves its Prometheus metrics
// (users-and-reliability.md A.0 items 4-7, 14-21).
package hub
