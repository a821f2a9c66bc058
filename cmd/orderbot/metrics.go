package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"orderbot/bot"
	"orderbot/orders"
	"orderbot/orders/sqlstore"
)

// metrics are what `serve` shows Prometheus on /metrics. They count and
// time; they never carry a message, a name or an order's content.
type metrics struct {
	reg      *prometheus.Registry
	messages *prometheus.CounterVec   // by channel and outcome
	replies  *prometheus.CounterVec   // by channel
	step     *prometheus.HistogramVec // by channel
	placed   prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderbot_messages_total",
			Help: "Messages (updates, button presses, form submissions) handled, by channel and outcome (ok, error).",
		}, []string{"channel", "outcome"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderbot_replies_total",
			Help: "Replies the conversation made to handled messages, by channel.",
		}, []string{"channel"}),
		step: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "orderbot_step_seconds",
			Help:    "Time to handle one message (a conversation step), waiting for its conversation's lease included.",
			Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"channel"}),
		placed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orderbot_orders_placed_total",
			Help: "Orders this process placed (a repeated checkout of the same order is not counted again).",
		}),
	}
	m.reg.MustRegister(m.messages, m.replies, m.step, m.placed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe is the hub's Observe.
func (m *metrics) observe(channel string, took time.Duration, replies int, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.messages.WithLabelValues(channel, outcome).Inc()
	m.replies.WithLabelValues(channel).Add(float64(replies))
	m.step.WithLabelValues(channel).Observe(took.Seconds())
}

// watchHub shows the hub's queue and the messages it dropped.
func (m *metrics) watchHub(h *bot.Hub) {
	dropped := func(reason string, n func(bot.HubStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "orderbot_messages_dropped_total", Help: "Messages the hub did not take, by reason (duplicate: seen before; busy: its conversation's queue was full).",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(n(h.Stats())) })
	}
	m.reg.MustRegister(
		dropped("duplicate", func(s bot.HubStats) uint64 { return s.Duplicates }),
		dropped("busy", func(s bot.HubStats) uint64 { return s.Busy }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "orderbot_messages_queued", Help: "Messages taken and waiting to be handled."},
			func() float64 { return float64(h.Stats().Queued) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "orderbot_messages_running", Help: "Messages being handled now."},
			func() float64 { return float64(h.Stats().Running) }),
	)
}

// pacedChannel is what a channel tells of its pacing.
type pacedChannel interface {
	RateLimited() uint64
	SharedLimitFailures() uint64
}

// watchPacing counts a channel's rate-limit answers (429), and the times
// its limits shared by the replicas could not be asked.
func (m *metrics) watchPacing(channel string, c pacedChannel) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "orderbot_rate_limited_total", Help: "Times a channel answered 429 (over its rate limit); the bot waited as asked.",
		ConstLabels: prometheus.Labels{"channel": channel},
	}, func() float64 { return float64(c.RateLimited()) }))
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "orderbot_shared_limit_failures_total",
		Help:        "Times the rate limits shared by the replicas (in Redis) could not be asked; the replica then paced its sends alone for a few seconds.",
		ConstLabels: prometheus.Labels{"channel": channel},
	}, func() float64 { return float64(c.SharedLimitFailures()) }))
}

// watchOutbox shows the outbox's backlog, read from the database at each
// scrape: the whole fleet's, since every replica drains the same outbox.
func (m *metrics) watchOutbox(store *sqlstore.Store, logger *slog.Logger) {
	m.reg.MustRegister(&outboxCollector{store: store, logger: logger})
}

var (
	outboxWaiting = prometheus.NewDesc("orderbot_outbox_backlog", "Notifications not delivered yet and still being tried.", nil, nil)
	outboxAge     = prometheus.NewDesc("orderbot_outbox_oldest_age_seconds", "Age of the oldest notification still being tried (0: none).", nil, nil)
	outboxParked  = prometheus.NewDesc("orderbot_outbox_parked", "Notifications set aside for good (orderbot outbox list --failed).", nil, nil)
)

// outboxCollector reads the outbox's counts when scraped.
type outboxCollector struct {
	store  *sqlstore.Store
	logger *slog.Logger
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxWaiting
	ch <- outboxAge
	ch <- outboxParked
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	waiting, oldest, parked, err := c.store.Backlog(ctx)
	if err != nil {
		// The scrape goes on without them; /readyz tells the database is down.
		c.logger.Warn("outbox metrics unavailable", "err", err)
		return
	}
	age := 0.0
	if !oldest.IsZero() {
		age = max(0, time.Since(oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(outboxWaiting, prometheus.GaugeValue, float64(waiting))
	ch <- prometheus.MustNewConstMetric(outboxAge, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(outboxParked, prometheus.GaugeValue, float64(parked))
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// countingService is the order service the conversations use, counting the
// orders placed.
type countingService struct {
	*orders.Service
	placed prometheus.Counter
}

// Place places d, counting a new order once: a repeated checkout returns
// the order placed before, which is older than the call.
func (s countingService) Place(ctx context.Context, d orders.Draft) (orders.Order, error) {
	start := time.Now().Truncate(time.Microsecond) // as precise as an order's time
	o, err := s.Service.Place(ctx, d)
	if err == nil && !o.CreatedAt.Before(start) {
		s.placed.Inc()
	}
	return o, err
}
