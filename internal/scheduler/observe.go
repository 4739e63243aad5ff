package scheduler

import (
	"time"

	"github.com/waypost/waypost/internal/metrics"
	"github.com/waypost/waypost/internal/report"
	"github.com/waypost/waypost/internal/routing"
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
func connectorLabel(name string) (connector, peer string) {
	hop, err := routing.ParseNextHop(name)
	if err != nil {
		return "none", ""
	}
	switch hop.Kind {
	case routing.HopMailbox, routing.HopUnreachable:
		return string(hop.Kind), ""
	case routing.HopConnector:
		return hop.Name, ""
	case routing.HopHub:
		return "relay", hop.Server
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
