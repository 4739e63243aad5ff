// Package metrics holds a hub's Prometheus metrics (docs/operations.md,
// "Metrics"): what was received, delivered, deferred and failed, by
// connector and enhanced status class; queue depth and the age of the oldest
// message per queue, read from the queue at scrape time; a delivery latency
// histogram counted once per final outcome, never per retry; reports by
// kind; SMTP sessions, rejects by reply code and authentication failures;
// login lockouts by service;
// hub-to-hub relays; reloads. Every label takes values from a bounded set:
// connector, server and queue names from the organization file, reply codes,
// status classes (2, 4, 5) and fixed words. Handler serves them in the
// Prometheus text format (or OpenMetrics when the scraper asks).
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of one hub. Its methods are safe for concurrent use;
// a nil *Metrics records nothing, so callers need not check.
type Metrics struct {
	reg          *prometheus.Registry
	received     *prometheus.CounterVec
	deliveries   *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	reports      *prometheus.CounterVec
	sessions     *prometheus.CounterVec
	rejects      *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	lockouts     *prometheus.CounterVec
	relays       *prometheus.CounterVec
	reloads      *prometheus.CounterVec
	adminActions *prometheus.CounterVec
	shadows      *prometheus.CounterVec

	recentIn, recentOut window // received, delivered in the last hour (recent.go)
}

// QueueStat is one queue as the collector reports it.
type QueueStat struct {
	Queue      string    // next hop
	Messages   int       // messages with a pending recipient here
	Recipients int       // pending recipients
	Held       int       // of which held
	Oldest     time.Time // arrival of the oldest message
}

// QueueSource reads the queue at scrape time: every queue, and the number
// of messages in the whole queue.
type QueueSource func() (queues []QueueStat, messages int, err error)

// New makes the metrics of server, with its queue read through queue (nil:
// no queue metrics) and the Go runtime and process metrics.
func New(server string, queue QueueSource) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	c := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "waypost", Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	m.received = c("messages_received_total", "Messages accepted into the queue, by receive connector (\"relay\" for hub-to-hub, \"dsn\" for reports this hub wrote).", "connector")
	m.deliveries = c("deliveries_total", "Recipient outcomes of delivery attempts, by connector (send connector name, \"mailbox\", \"relay\" for the next hub, \"unreachable\", \"none\"), outcome (delivered, deferred, failed) and enhanced status class (2, 4, 5).", "connector", "outcome", "class")
	m.reports = c("reports_generated_total", "Delivery status notifications queued, by kind (ndr, delay, success).", "kind")
	m.sessions = c("smtp_sessions_total", "SMTP connections accepted, by receive connector.", "connector")
	m.rejects = c("smtp_rejects_total", "SMTP replies 4xx and 5xx (and refused connections), by receive connector, reply code and enhanced status code (\"\" when the reply has none).", "connector", "code", "enhanced")
	m.authFailures = c("smtp_auth_failures_total", "Failed SMTP AUTH attempts, by receive connector.", "connector")
	m.lockouts = c("login_lockouts_total", "Lockouts after failed logins (package loginlimit), by service (smtp, relay, api) and kind (address: one client address; account: one account, from many addresses).", "service", "kind")
	m.relays = c("hub_relays_total", "Hub-to-hub relays of recipients: direction out (to the next hub, by its result) or in (accepted from a hub).", "direction", "peer", "outcome")
	m.reloads = c("config_reloads_total", "Reloads of the organization file, by result (applied, unchanged, refused).", "result")
	m.adminActions = c("admin_actions_total", "Queue administration actions, by action.", "action")
	m.shadows = c("shadow_events_total", "Shadow redundancy (docs/design/shadow.md), by event: copy_made and copy_failed (a copy on another hub before the 250, shadow_on_receive), discharged (a shadow whose primary was delivered onward), resubmitted_unknown and resubmitted_timeout (a shadow delivered from here: its holder lost the primary, or did not answer within shadow_heartbeat_timeout). The shadows kept are the queues shadow:HUB of waypost_queue_recipients.", "event")
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "waypost", Name: "delivery_latency_seconds",
		Help: "From arrival in the queue to the final outcome of a recipient, counted once per recipient when it is delivered or failed (never per retry).",
		// From a local delivery (milliseconds) to expiry (two days).
		Buckets: []float64{0.01, 0.05, 0.25, 1, 5, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 48 * 3600},
	}, []string{"outcome"})
	m.reg.MustRegister(m.latency)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "waypost", Name: "server_info", Help: "Always 1; the server label names this hub.", ConstLabels: prometheus.Labels{"server": server}})
	info.Set(1)
	m.reg.MustRegister(info)
	if queue != nil {
		m.reg.MustRegister(&queueCollector{source: queue, now: time.Now})
	}
	return m
}

// Handler serves the metrics (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Registry is where the metrics are registered, for other packages' own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Received counts a message accepted on a receive connector.
func (m *Metrics) Received(connector string) {
	if m != nil {
		m.received.WithLabelValues(connector).Inc()
		m.recentIn.add(time.Now(), 1)
	}
}

// Outcomes of a delivery.
const (
	Delivered = "delivered"
	Deferred  = "deferred"
	Failed    = "failed"
)

// Delivery counts the outcome of an attempt for one recipient. A final
// outcome (delivered, failed) also goes into the latency histogram, with
// the time since arrival.
func (m *Metrics) Delivery(connector, outcome, status string, sinceArrival time.Duration) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(connector, outcome, Class(status)).Inc()
	if outcome == Delivered {
		m.recentOut.add(time.Now(), 1)
	}
	if outcome != Deferred {
		m.latency.WithLabelValues(outcome).Observe(max(sinceArrival, 0).Seconds())
	}
}

// Class is the class of an enhanced status code ("2", "4" or "5"), or
// "other" for anything else.
func Class(status string) string {
	if len(status) > 0 {
		switch status[0] {
		case '2', '4', '5':
			return status[:1]
		}
	}
	return "other"
}

// Report counts a delivery status notification queued.
func (m *Metrics) Report(kind string) {
	if m != nil {
		m.reports.WithLabelValues(kind).Inc()
	}
}

// Session counts an SMTP connection.
func (m *Metrics) Session(connector string) {
	if m != nil {
		m.sessions.WithLabelValues(connector).Inc()
	}
}

// Reject counts a 4xx or 5xx reply. The receive side writes a fixed set
// of enhanced codes, so the label stays bounded.
func (m *Metrics) Reject(connector string, code int, enhanced string) {
	if m != nil {
		m.rejects.WithLabelValues(connector, strconv.Itoa(code), enhanced).Inc()
	}
}

// AuthFailure counts a failed AUTH.
func (m *Metrics) AuthFailure(connector string) {
	if m != nil {
		m.authFailures.WithLabelValues(connector).Inc()
	}
}

// LoginLockout counts a lockout after failed logins: service is "smtp",
// "relay" or "api", kind "address" or "account".
func (m *Metrics) LoginLockout(service, kind string) {
	if m != nil {
		m.lockouts.WithLabelValues(service, kind).Inc()
	}
}

// Relay counts a hub-to-hub relay of a recipient: direction "out" with
// the outcome of the attempt, or "in" (outcome "accepted").
func (m *Metrics) Relay(direction, peer, outcome string) {
	if m != nil {
		m.relays.WithLabelValues(direction, peer, outcome).Inc()
	}
}

// Reload counts a reload by result: applied, unchanged or refused.
func (m *Metrics) Reload(result string) {
	if m != nil {
		m.reloads.WithLabelValues(result).Inc()
	}
}

// Admin counts a queue administration action.
func (m *Metrics) Admin(action string) {
	if m != nil {
		m.adminActions.WithLabelValues(action).Inc()
	}
}

// Shadow counts a shadow redundancy event: copy_made, copy_failed,
// discharged, resubmitted_unknown or resubmitted_timeout.
func (m *Metrics) Shadow(event string) {
	if m != nil {
		m.shadows.WithLabelValues(event).Inc()
	}
}
