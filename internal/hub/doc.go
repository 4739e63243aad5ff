// Package hub runs one server of the organization: the composition root
// that wires the stages of the data flow together (receive, resolve,
// route, queue, deliver, report) around the durable queue, runs them and
// stops them (interfaces.md section 1). It opens the queue, the tracking
// log, the directory and the routing engine, builds the delivery agents
// of the send connectors and the hub relay, and starts the receive
// connectors (internal/smtpd), the scheduler (internal/scheduler), the
// pickup folders' watcher (internal/pickup), the reloader
// (internal/reload), the HTTP API (internal/api) and the control socket,
// whose requests it answers by calling those parts (interfaces.md section
// 6; docs/operations.md, "Queue administration", "Reload", "Metrics").
package hub
