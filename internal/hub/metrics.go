package hub

import (
	"strings"
	"time"

	"github.com/waypost/waypost/internal/metrics"
	"github.com/waypost/waypost/internal/report"
	"github.com/waypost/waypost/internal/smtpd"
	"github.com/waypost/waypost/internal/tracking"
)

// observe counts the outcome that a tracking event records, once it is on
// disk: so the counters say exactly what the tracking log says. A final
// outcome (DELIVER, SEND, FAIL) goes into the latency histogram once;
// DEFER is counted each time, as an attempt.
func (s *Scheduler) observe(e tracking.Event, arrival time.Time) {
	if s.Metrics == nil {
		return
	}
	var outcome string
	switch e.Event {
	case tracking.Deliver, tracking.Send:
		outcome = metrics.Delivered
	case tracking.Fail:
		outcome = metrics.Failed
	case tracking.Defer:
		outcome = metrics.Deferred
	default:
		return
	}
	conn, peer := connectorLabel(e.NextHop)
	s.Metrics.Delivery(conn, outcome, e.Status, s.now().Sub(arrival))
	if peer != "" {
		s.Metrics.Relay("out", peer, outcome)
	}
}

// connectorLabel turns a next hop into the connector label of the
// delivery metrics, and names the peer of a hub-to-hub relay.
func connectorLabel(hop string) (connector, peer string) {
	kind, rest, _ := strings.Cut(hop, ":")
	switch kind {
	case "mailbox":
		return "mailbox", ""
	case "connector":
		name, _, _ := strings.Cut(rest, "@")
		return name, ""
	case "hub":
		return "relay", rest
	case "unreachable":
		return "unreachable", ""
	}
	return "none", ""
}

// reportKind names a report for the metrics: ndr, delay or success.
func reportKind(r *report.Report) string {
	switch {
	case r.Delay:
		return "delay"
	case r.Success:
		return "success"
	}
	return "ndr"
}

// queueStats reads the whole queue for the metrics collector.
func (h *Hub) queueStats() ([]metrics.QueueStat, int, error) {
	msgs, err := h.queue.List()
	if err != nil {
		h.log.Warn("metrics: reading the queue", "err", err)
	}
	qs := aggregate(msgs, nil, time.Now())
	out := make([]metrics.QueueStat, 0, len(qs))
	for _, q := range qs {
		out = append(out, metrics.QueueStat{Queue: q.Queue, Messages: q.Messages, Recipients: q.Recipients, Held: q.Held, Oldest: q.Oldest})
	}
	return out, len(msgs), err
}

// mountMetrics serves the metrics at GET /metrics on the API listener
// (server.api), beside the HTTP API and without its authentication, as
// Prometheus scrapes it. Without server.api there is no /metrics.
func (h *Hub) mountMetrics() {
	if h.api != nil {
		h.api.Handle("GET /metrics", h.metrics.Handler())
	}
}

// observeListener counts the SMTP sessions, rejects and failed AUTH of a
// receive connector (or of the relay listener, as "relay").
func (h *Hub) observeListener(l *smtpd.Listener, name string) {
	m := h.metrics
	l.SetEvents(smtpd.Events{
		OnSession:     func() { m.Session(name) },
		OnReject:      func(code int, enhanced string) { m.Reject(name, code, enhanced) },
		OnAuthFailure: func() { m.AuthFailure(name) },
		OnLockout:     m.LoginLockout,
	})
}
