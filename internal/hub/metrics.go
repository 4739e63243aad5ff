package hub

import (
	"github.com/waypost/waypost/internal/smtpd"
)

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
