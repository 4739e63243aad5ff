package metrics

import (
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// scrape returns the text exposition of m.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestCounters(t *testing.T) {
	arrival := time.Now()
	var stats []QueueStat
	var readErr error
	m := New("hub1", func() ([]QueueStat, int, error) { return stats, len(stats), readErr })
	m.Received("Default")
	m.Received("Default")
	m.Delivery("mailbox", Delivered, "2.0.0", 3*time.Second)
	m.Delivery("Internet", Deferred, "4.4.1", time.Second)
	m.Delivery("Internet", Deferred, "4.4.1", 2*time.Second)
	m.Delivery("Internet", Failed, "5.1.1", time.Hour)
	m.Delivery("none", Failed, "", 0)
	m.Report("ndr")
	m.Reject("Default", 550, "5.1.1")
	m.AuthFailure("Clients")
	m.LoginLockout("api", "account")
	m.Session("Default")
	m.Relay("out", "hub2", Delivered)
	m.Reload("refused")
	m.Admin("hold")
	m.Shadow("copy_made")
	m.Shadow("resubmitted_timeout")
	m.Shadow("resubmitted_timeout")
	stats = []QueueStat{{Queue: "connector:Internet@hub1", Messages: 2, Recipients: 3, Held: 1, Oldest: arrival.Add(-90 * time.Second)}}
	out := scrape(t, m)
	for _, want := range []string{
		`waypost_messages_received_total{connector="Default"} 2`,
		`waypost_deliveries_total{class="2",connector="mailbox",outcome="delivered"} 1`,
		`waypost_deliveries_total{class="4",connector="Internet",outcome="deferred"} 2`,
		`waypost_deliveries_total{class="5",connector="Internet",outcome="failed"} 1`,
		`waypost_deliveries_total{class="other",connector="none",outcome="failed"} 1`,
		// Deferrals are not final: the histogram counts the three final outcomes only.
		`waypost_delivery_latency_seconds_count{outcome="delivered"} 1`,
		`waypost_delivery_latency_seconds_count{outcome="failed"} 2`,
		`waypost_delivery_latency_seconds_bucket{outcome="delivered",le="5"} 1`,
		`waypost_delivery_latency_seconds_bucket{outcome="delivered",le="1"} 0`,
		`waypost_reports_generated_total{kind="ndr"} 1`,
		`waypost_smtp_rejects_total{code="550",connector="Default",enhanced="5.1.1"} 1`,
		`waypost_smtp_auth_failures_total{connector="Clients"} 1`,
		`waypost_login_lockouts_total{kind="account",service="api"} 1`,
		`waypost_smtp_sessions_total{connector="Default"} 1`,
		`waypost_hub_relays_total{direction="out",outcome="delivered",peer="hub2"} 1`,
		`waypost_config_reloads_total{result="refused"} 1`,
		`waypost_shadow_events_total{event="copy_made"} 1`,
		`waypost_shadow_events_total{event="resubmitted_timeout"} 2`,
		`waypost_queue_messages{queue="connector:Internet@hub1"} 2`,
		`waypost_queue_recipients{queue="connector:Internet@hub1"} 3`,
		`waypost_queue_held_recipients{queue="connector:Internet@hub1"} 1`,
		`waypost_queue_length 1`,
		`waypost_queue_read_error 0`,
		`waypost_server_info{server="hub1"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(out, `outcome="deferred",le=`) {
		t.Error("deferrals went into the latency histogram")
	}
	// The age is computed at scrape time, from arrival.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, `waypost_queue_oldest_message_age_seconds{queue="connector:Internet@hub1"} `) {
			var age float64
			if _, err := fmt.Sscan(strings.Fields(line)[1], &age); err != nil || age < 90 || age > 120 {
				t.Errorf("age line %q", line)
			}
		}
	}
	// A queue that empties disappears; a read error shows.
	stats, readErr = nil, errors.New("disk")
	out = scrape(t, m)
	if strings.Contains(out, `waypost_queue_messages{`) || !strings.Contains(out, "waypost_queue_read_error 1") || !strings.Contains(out, "waypost_queue_length 0") {
		t.Errorf("after the queue emptied:\n%s", out)
	}
}

func TestNilAndClass(t *testing.T) {
	var m *Metrics // records nothing, never panics
	m.Received("x")
	m.Delivery("x", Delivered, "2.0.0", 0)
	m.Report("ndr")
	m.Session("x")
	m.Reject("x", 550, "")
	m.AuthFailure("x")
	m.Relay("out", "x", Failed)
	m.Reload("applied")
	m.Admin("hold")
	m.Shadow("discharged")
	for status, want := range map[string]string{"2.0.0": "2", "4.4.7": "4", "5.3.0": "5", "": "other", "x": "other", "3.0.0": "other"} {
		if got := Class(status); got != want {
			t.Errorf("Class(%q) = %q, want %q", status, got, want)
		}
	}
}

// Every metric the sample alert rules use exists, so that the rules stay
// true as the metrics change.
func TestAlertRulesNameRealMetrics(t *testing.T) {
	rules, err := os.ReadFile("../../packaging/prometheus/waypost-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := New("hub1", func() ([]QueueStat, int, error) {
		return []QueueStat{{Queue: "q", Messages: 1, Recipients: 1, Oldest: time.Now()}}, 1, nil
	})
	m.Received("c")
	m.Delivery("c", Delivered, "2.0.0", time.Second)
	m.Report("ndr")
	m.Session("c")
	m.Reject("c", 550, "5.1.1")
	m.AuthFailure("c")
	m.Relay("out", "hub2", Delivered)
	m.Reload("applied")
	m.Admin("hold")
	m.Shadow("resubmitted_timeout")
	out := scrape(t, m)
	names := regexp.MustCompile(`\bwaypost_[a-z_]+`).FindAllString(string(rules), -1)
	if len(names) < 5 {
		t.Fatalf("found %d metric names in the rules", len(names))
	}
	for _, n := range names {
		if !strings.Contains(out, "\n"+n+"{") && !strings.Contains(out, "\n"+n+" ") {
			t.Errorf("the alert rules use %s, which the hub does not export", n)
		}
	}
}
