package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	queueMessages = prometheus.NewDesc("waypost_queue_messages",
		"Messages with a pending recipient in a queue (a queue is a next hop; a message with recipients in several counts in each).", []string{"queue"}, nil)
	queueRecipients = prometheus.NewDesc("waypost_queue_recipients",
		"Pending recipients in a queue.", []string{"queue"}, nil)
	queueHeld = prometheus.NewDesc("waypost_queue_held_recipients",
		"Recipients of a queue held by an administrator.", []string{"queue"}, nil)
	queueOldest = prometheus.NewDesc("waypost_queue_oldest_message_age_seconds",
		"Age of the oldest message in a queue, from its arrival (not from its last attempt).", []string{"queue"}, nil)
	queueTotal = prometheus.NewDesc("waypost_queue_length",
		"Messages in the whole queue, whatever their state.", nil, nil)
	queueUp = prometheus.NewDesc("waypost_queue_read_error",
		"1 when the queue could not be read whole at this scrape (see the hub's log), else 0; the queue is read from memory, so 0 unless the hub's log says otherwise.", nil, nil)
)

// queueCollector asks its source when Prometheus scrapes: the hub's
// scheduler answers from its in-memory index and the per-queue counts it
// keeps as messages change (no disk, no scan of the records), so the
// gauges are never stale.
type queueCollector struct {
	source QueueSource
	now    func() time.Time
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueMessages, queueRecipients, queueHeld, queueOldest, queueTotal, queueUp} {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	queues, total, err := c.source()
	bad := 0.0
	if err != nil {
		bad = 1
	}
	now := c.now()
	for _, q := range queues {
		ch <- prometheus.MustNewConstMetric(queueMessages, prometheus.GaugeValue, float64(q.Messages), q.Queue)
		ch <- prometheus.MustNewConstMetric(queueRecipients, prometheus.GaugeValue, float64(q.Recipients), q.Queue)
		ch <- prometheus.MustNewConstMetric(queueHeld, prometheus.GaugeValue, float64(q.Held), q.Queue)
		ch <- prometheus.MustNewConstMetric(queueOldest, prometheus.GaugeValue, max(now.Sub(q.Oldest), 0).Seconds(), q.Queue)
	}
	ch <- prometheus.MustNewConstMetric(queueTotal, prometheus.GaugeValue, float64(total))
	ch <- prometheus.MustNewConstMetric(queueUp, prometheus.GaugeValue, bad)
}
