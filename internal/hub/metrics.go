package hub

import (
	"context"
	"errors"
	"net"
	"net/http"
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
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	conn, peer := connectorLabel(e.NextHop)
	s.Metrics.Delivery(conn, outcome, e.Status, now().Sub(arrival))
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

// openMetrics binds the server's API listener for /metrics, so that a
// port in use is an error at start-up.
//
// The HTTP API (issue 4) will serve on the same listener; until it lands
// this minimal server answers /metrics only. To merge: mount
// h.metrics.Handler() at /metrics on the API's mux and drop this server.
func (h *Hub) openMetrics() error {
	if h.server.API == "" {
		return nil
	}
	ln, err := net.Listen("tcp", h.server.API)
	if err != nil {
		return errors.New("api listener (metrics): " + err.Error())
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h.metrics.Handler())
	h.httpLn = ln
	h.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	return nil
}

// serveMetrics serves until shutdownMetrics.
func (h *Hub) serveMetrics() {
	if h.httpSrv == nil {
		return
	}
	if err := h.httpSrv.Serve(h.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
		h.log.Error("api listener (metrics) stopped", "err", err)
	}
}

func (h *Hub) shutdownMetrics(ctx context.Context) {
	if h.httpSrv != nil {
		h.httpSrv.Shutdown(ctx)
	}
}

// observeListener counts the SMTP sessions and rejects of a receive
// connector, and wraps its listening socket to count connections.
func (h *Hub) observeListener(l *smtpd.Listener, name string, ln net.Listener) net.Listener {
	m := h.metrics
	l.OnReject = func(code int) { m.Reject(name, code) }
	return countingListener{Listener: ln, count: func() { m.Session(name) }}
}

type countingListener struct {
	net.Listener
	count func()
}

func (c countingListener) Accept() (net.Conn, error) {
	conn, err := c.Listener.Accept()
	if err == nil {
		c.count()
	}
	return conn, err
}

// countingAuth counts failed AUTH attempts of a receive connector.
type countingAuth struct {
	smtpd.Authenticator
	m         *metrics.Metrics
	connector string
}

func (a countingAuth) Authenticate(user, pass string) (string, bool) {
	mb, ok := a.Authenticator.Authenticate(user, pass)
	if !ok {
		a.m.AuthFailure(a.connector)
	}
	return mb, ok
}
