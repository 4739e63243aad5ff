package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/metrics"
)

// A hub that answers /metrics is up, with its queue totals read from
// the metrics a real metrics.Metrics serves; one that does not is down.
func TestProbeReadsAnotherHubsMetrics(t *testing.T) {
	m := metrics.New("hub-branch", func() ([]metrics.QueueStat, int, error) {
		return []metrics.QueueStat{
			{Queue: "connector:Fax@hub-branch", Messages: 5, Recipients: 6, Held: 2, Oldest: time.Now().Add(-time.Minute)},
			{Queue: "unreachable", Messages: 2, Recipients: 2, Held: 1, Oldest: time.Now()},
		}, 7, nil
	})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	h := probe(context.Background(), hubState{Name: "hub-branch", API: strings.TrimPrefix(srv.URL, "http://")})
	if h.State != "up" || !h.Known || h.Messages != 7 || h.Held != 3 {
		t.Errorf("probe of a live hub: %+v; want up, 7 messages, 3 held", h)
	}
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "") }))
	addr := strings.TrimPrefix(dead.URL, "http://")
	dead.Close()
	if h := probe(context.Background(), hubState{Name: "gone", API: addr}); h.State != "down" || h.Known || h.Error == "" {
		t.Errorf("probe of a stopped hub: %+v; want down with an error", h)
	}
}
