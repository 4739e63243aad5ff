// Package hub runs one server of the organization: it wires the stages of
// the data flow together (receive, resolve, route, queue, deliver, report)
// around the durable queue. The scheduler that takes due recipients from
// the queue and delivers them, with its reports and the queue
// administration, is internal/scheduler; the hub opens the queue, builds
// the delivery agents of the send connectors, and starts the scheduler
// and the pickup folders' watcher (internal/pickup) (interfaces.md
// section 1). A running hub also answers its control
// socket (queue administration and reload, interfaces.md section 6),
// reloads the organization file live, and serves its Prometheus metrics
// (docs/operations.md, "Queue administration", "Reload", "Metrics").
package hub
