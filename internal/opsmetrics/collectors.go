package opsmetrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/engine"
	"github.com/vigil-soc/vigil/internal/store"
)

// ItemCounter reads the open items' counts (the store).
type ItemCounter interface {
	OpenItemCounts(ctx context.Context, states []string) ([]store.ItemCount, error)
}

// OpenItems is vigil_workitems_open{state,severity}: one GROUP BY per
// scrape. Every open state of the process is reported with every
// severity, 0 included, so that a series does not vanish when its last
// item leaves and an alert on it resolves rather than going stale.
type OpenItems struct {
	st     ItemCounter
	states []string
	errs   *Errors
	desc   *prometheus.Desc
}

// NewOpenItems counts the items in states (the process's open states).
func NewOpenItems(st ItemCounter, states []string, errs *Errors) *OpenItems {
	return &OpenItems{st: st, states: states, errs: errs, desc: prometheus.NewDesc("vigil_workitems_open",
		"Open work items (not closed, not merged), by state and severity.", []string{"state", "severity"}, nil)}
}

func (c *OpenItems) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *OpenItems) Collect(ch chan<- prometheus.Metric) {
	counts, ok := read("workitems_open", c.errs, func(ctx context.Context) ([]store.ItemCount, error) {
		return c.st.OpenItemCounts(ctx, c.states)
	})
	if !ok {
		return
	}
	n := map[[2]string]int{}
	for _, s := range c.states {
		for _, sev := range alert.Severities {
			n[[2]string{s, string(sev)}] = 0
		}
	}
	for _, ic := range counts {
		n[[2]string{ic.State, ic.Severity}] += ic.Count
	}
	for k, v := range n {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(v), k[0], k[1])
	}
}

// OutboxReader reads the outbox's summary (the store).
type OutboxReader interface {
	OutboxStats(ctx context.Context) ([]store.OutboxStat, error)
}

// Outbox is vigil_outbox_pending, vigil_outbox_failed and
// vigil_outbox_oldest_pending_age_seconds, by target. The configured
// targets are reported at 0 when nothing waits for them, for the same
// reason as OpenItems' zeros.
type Outbox struct {
	st      OutboxReader
	targets []string
	clk     clock.Clock
	errs    *Errors
	pending *prometheus.Desc
	failed  *prometheus.Desc
	age     *prometheus.Desc
}

// NewOutbox reports targets (the configured outbox targets) and any
// other target with messages waiting.
func NewOutbox(st OutboxReader, targets []string, clk clock.Clock, errs *Errors) *Outbox {
	return &Outbox{st: st, targets: targets, clk: clk, errs: errs,
		pending: prometheus.NewDesc("vigil_outbox_pending",
			"Outbox messages waiting to be sent (retries included), by target.", []string{"target"}, nil),
		failed: prometheus.NewDesc("vigil_outbox_failed",
			"Outbox messages given up on, waiting for a person's retry, by target.", []string{"target"}, nil),
		age: prometheus.NewDesc("vigil_outbox_oldest_pending_age_seconds",
			"Age of the oldest pending outbox message, by target; 0 when none is pending.", []string{"target"}, nil)}
}

func (c *Outbox) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.failed
	ch <- c.age
}

func (c *Outbox) Collect(ch chan<- prometheus.Metric) {
	stats, ok := read("outbox", c.errs, func(ctx context.Context) ([]store.OutboxStat, error) { return c.st.OutboxStats(ctx) })
	if !ok {
		return
	}
	byTarget := map[string]store.OutboxStat{}
	for _, t := range c.targets {
		byTarget[t] = store.OutboxStat{Target: t}
	}
	for _, s := range stats {
		byTarget[s.Target] = s
	}
	now := c.clk.Now()
	for t, s := range byTarget {
		age := 0.0
		if !s.OldestPending.IsZero() {
			age = max(0, now.Sub(s.OldestPending).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(s.Pending), t)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(s.Failed), t)
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age, t)
	}
}

// RuleCounter reads the rules' counters (the store).
type RuleCounter interface {
	RuleHitCounts(ctx context.Context) ([]store.RuleHitCount, error)
}

// Rule hit actions: what a hit did, as far as the rules' counters tell.
const (
	ActionSuppress = "suppress" // the alert was stored with no item
	ActionClose    = "close"    // the item was closed
	ActionOther    = "other"    // anything else: assign, tag, severity, tasks, comments, page, playbook
)

// RuleHits is vigil_rule_hits_total{rule,action}. The hits are counted
// in the database, in the transaction of the change a rule acted on
// (most of them inside the ingest's, where no observer hears them), so
// this reads those counters rather than counting again in memory: they
// survive restarts and count a hit once whichever instance ran the rule.
// Summed over action they are the rule's hits.
type RuleHits struct {
	st   RuleCounter
	errs *Errors
	desc *prometheus.Desc
}

// NewRuleHits reads the rules' counters from st.
func NewRuleHits(st RuleCounter, errs *Errors) *RuleHits {
	return &RuleHits{st: st, errs: errs, desc: prometheus.NewDesc("vigil_rule_hits_total",
		"Automation rule hits, by rule and what the hit did (suppress, close, other); the database's totals.", []string{"rule", "action"}, nil)}
}

func (c *RuleHits) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *RuleHits) Collect(ch chan<- prometheus.Metric) {
	counts, ok := read("rule_hits", c.errs, func(ctx context.Context) ([]store.RuleHitCount, error) { return c.st.RuleHitCounts(ctx) })
	if !ok {
		return
	}
	for _, r := range counts {
		other := max(0, r.Hits-r.Closed-r.Suppressed)
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(r.Suppressed), r.Rule, ActionSuppress)
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(r.Closed), r.Rule, ActionClose)
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(other), r.Rule, ActionOther)
	}
}

// Feed is one configured threat-intelligence feed's freshness.
type Feed struct {
	Name string
	// LastSuccess is when its last successful pass ran; zero when none
	// ever did.
	LastSuccess time.Time
	Indicators  int // live indicators it lists
}

// Feeds is vigil_feed_last_success_timestamp_seconds{feed} and
// vigil_feed_indicators{feed}. Counting the indicators reads the whole
// indicator table, and feeds change only when they run (hourly, say), so
// a read is kept for FeedsCacheFor rather than repeated on every scrape.
type Feeds struct {
	read func(ctx context.Context) ([]Feed, error)
	clk  clock.Clock
	errs *Errors
	last *prometheus.Desc
	n    *prometheus.Desc

	mu     sync.Mutex
	cached []Feed
	at     time.Time
}

// FeedsCacheFor is how long a read of the feeds is reused.
const FeedsCacheFor = time.Minute

// NewFeeds reports the feeds read returns (the configured ones).
func NewFeeds(read func(ctx context.Context) ([]Feed, error), clk clock.Clock, errs *Errors) *Feeds {
	return &Feeds{read: read, clk: clk, errs: errs,
		last: prometheus.NewDesc("vigil_feed_last_success_timestamp_seconds",
			"When each threat-intelligence feed's last successful pass ran (Unix seconds); 0 when none has.", []string{"feed"}, nil),
		n: prometheus.NewDesc("vigil_feed_indicators",
			"Live indicators each threat-intelligence feed lists.", []string{"feed"}, nil)}
}

func (c *Feeds) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.last
	ch <- c.n
}

func (c *Feeds) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	now := c.clk.Now()
	if c.cached == nil || now.Sub(c.at) >= FeedsCacheFor || now.Before(c.at) {
		feeds, ok := read("feeds", c.errs, c.read)
		if !ok {
			c.mu.Unlock()
			return
		}
		if feeds == nil {
			feeds = []Feed{}
		}
		c.cached, c.at = feeds, now
	}
	feeds := c.cached
	c.mu.Unlock()
	for _, f := range feeds {
		ts := 0.0
		if !f.LastSuccess.IsZero() {
			ts = float64(f.LastSuccess.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(c.last, prometheus.GaugeValue, ts, f.Name)
		ch <- prometheus.MustNewConstMetric(c.n, prometheus.GaugeValue, float64(f.Indicators), f.Name)
	}
}

// Connectors is vigil_connector_up{connector}: 1 when a module's last
// pass succeeded, 0 when it failed, as the connector-health page shows
// it. A module that has not run yet is left out: it is neither up nor
// down. How many passes failed is vigil_engine_passes_total{result=
// "error"}, which the engine already counts per module; this adds the
// state now, which a rate of errors tells only while passes run.
type Connectors struct {
	statuses func() []engine.Status
	desc     *prometheus.Desc
}

// NewConnectors reports the modules statuses returns (the connector
// health page's list).
func NewConnectors(statuses func() []engine.Status) *Connectors {
	return &Connectors{statuses: statuses, desc: prometheus.NewDesc("vigil_connector_up",
		"1 when a connector's or engine module's last pass succeeded, 0 when it failed.", []string{"connector"}, nil)}
}

func (c *Connectors) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *Connectors) Collect(ch chan<- prometheus.Metric) {
	seen := map[string]bool{}
	for _, s := range c.statuses() {
		if seen[s.Name] || (s.LastRun.IsZero() && s.LastError == "") {
			continue
		}
		seen[s.Name] = true
		up := 1.0
		if s.LastError != "" {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, up, s.Name)
	}
}
