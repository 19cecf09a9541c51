// Package ingest is the inbound alert pipeline: stages that check and
// shape alerts, then a group-committing writer that stores them.
//
// Group commit is what makes durable ingest fast on SQLite: requests that
// arrive while a transaction commits are queued, and the next transaction
// stores all of them at once and pays for one fsync. Each caller is
// answered only after the transaction holding its alerts has committed.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Stage is one step of the pipeline, after Alertmanager's notify.Stage.
// It may change, drop or reject alerts; an error rejects the request.
type Stage interface {
	Process(ctx context.Context, alerts []alert.Alert) ([]alert.Alert, error)
}

// StageFunc adapts a function to a Stage.
type StageFunc func(ctx context.Context, alerts []alert.Alert) ([]alert.Alert, error)

// Process calls f.
func (f StageFunc) Process(ctx context.Context, alerts []alert.Alert) ([]alert.Alert, error) {
	return f(ctx, alerts)
}

// Store persists a batch of alerts atomically.
type Store interface {
	IngestPrepared(ctx context.Context, proc *workitem.Process, actor string, alerts []store.Prepared) ([]store.IngestResult, error)
}

// StatusStore changes an alert's status at its source's word (a PagerDuty
// acknowledge or resolve event).
type StatusStore interface {
	ChangeAlertStatus(ctx context.Context, source, sourceID string, status alert.Status, actor, why string) (store.StatusChange, error)
}

// Reactor hears what committed changes did, after the commit: the alerts
// are durable whatever it does, so it cannot fail an ingest. The
// work-item service's move on a source's resolution is one.
type Reactor interface {
	// SourceResolved: every alert of the item is now resolved or
	// dismissed at its source (named by source), which cause explains.
	SourceResolved(ctx context.Context, itemID int64, source, cause string)
}

// RulePrecomputer evaluates creation rules on prepared alerts in the
// submitting goroutine, off the single writer (store.DB).
type RulePrecomputer interface {
	PrecomputeRules(proc *workitem.Process, actor string, ps []store.Prepared)
}

// IngestObserver is a Reactor that also hears every committed batch (the
// automation rules' alert.updated trigger).
type IngestObserver interface {
	Ingested(ctx context.Context, alerts []alert.Alert, results []store.IngestResult)
}

// ErrStopped is returned for submissions after the pipeline has stopped.
var ErrStopped = errors.New("ingest pipeline stopped")

// Options tunes the pipeline.
type Options struct {
	// MaxBatch caps the alerts stored in one transaction (default 2000).
	MaxBatch int
	// Writers is the number of concurrent writing transactions: 1 for
	// SQLite, which has one writer anyway; more help PostgreSQL.
	Writers  int
	Logger   *slog.Logger
	Registry prometheus.Registerer
}

// Pipeline runs stages in the caller's goroutine and stores through the
// group-commit writers.
type Pipeline struct {
	stages   []Stage
	store    Store
	proc     *workitem.Process
	maxBatch int
	writers  int
	log      *slog.Logger
	queue    chan *request

	mu      sync.RWMutex
	stopped bool
	reactor Reactor

	alertsTotal *prometheus.CounterVec
	batchSize   prometheus.Histogram
	commitTime  prometheus.Histogram
}

type request struct {
	actor   string
	alerts  []store.Prepared
	results []store.IngestResult
	err     error
	done    chan struct{}
}

// New returns a pipeline; call Run to start its writers.
func New(st Store, proc *workitem.Process, o Options, stages ...Stage) *Pipeline {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 2000
	}
	if o.Writers <= 0 {
		o.Writers = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{
		stages: stages, store: st, proc: proc, maxBatch: o.MaxBatch, writers: o.Writers,
		log:   o.Logger.With("component", "ingest"),
		queue: make(chan *request, 4096),
		alertsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_alerts_total", Help: "Alerts received, by outcome (created, updated, unchanged re-send, reopened, held for an incident).",
		}, []string{"outcome"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vigil_ingest_transaction_alerts", Help: "Alerts stored per ingest transaction (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7),
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vigil_ingest_transaction_seconds", Help: "Duration of ingest transactions.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	if o.Registry != nil {
		o.Registry.MustRegister(p.alertsTotal, p.batchSize, p.commitTime)
	}
	return p
}

// Process returns the work-item process the pipeline files alerts under.
func (p *Pipeline) Process() *workitem.Process { return p.proc }

// Submit runs the stages on alerts and stores them, returning once they are
// committed. A cancelled ctx stops the wait, not necessarily the write: the
// alerts may still be stored, which a retry then dedups.
func (p *Pipeline) Submit(ctx context.Context, actor string, alerts []alert.Alert) ([]store.IngestResult, error) {
	var err error
	for _, s := range p.stages {
		if alerts, err = s.Process(ctx, alerts); err != nil {
			return nil, err
		}
	}
	if len(alerts) == 0 {
		return []store.IngestResult{}, nil
	}
	prepared := make([]store.Prepared, len(alerts))
	for i, a := range alerts {
		if prepared[i], err = store.Prepare(a); err != nil {
			return nil, fmt.Errorf("alert %d: %w", i, err)
		}
	}
	if rp, ok := p.store.(RulePrecomputer); ok {
		rp.PrecomputeRules(p.proc, actor, prepared)
	}
	req := &request{actor: actor, alerts: prepared, done: make(chan struct{})}
	p.mu.RLock()
	if p.stopped {
		p.mu.RUnlock()
		return nil, ErrStopped
	}
	select {
	case p.queue <- req:
	case <-ctx.Done():
		p.mu.RUnlock()
		return nil, ctx.Err()
	}
	p.mu.RUnlock()
	select {
	case <-req.done:
		if req.err == nil {
			p.react(ctx, alerts, req.results)
		}
		return req.results, req.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// React sets who hears of committed changes; call it before Run.
func (p *Pipeline) React(r Reactor) { p.reactor = r }

// react tells the reactor which items the committed alerts left resolved
// at their source, once per item.
func (p *Pipeline) react(ctx context.Context, alerts []alert.Alert, results []store.IngestResult) {
	if p.reactor == nil {
		return
	}
	if o, ok := p.reactor.(IngestObserver); ok {
		o.Ingested(ctx, alerts, results)
	}
	told := map[int64]bool{}
	for i, r := range results {
		if !r.SourceResolved || r.WorkItemID == 0 || told[r.WorkItemID] || i >= len(alerts) {
			continue
		}
		told[r.WorkItemID] = true
		a := alerts[i]
		p.reactor.SourceResolved(ctx, r.WorkItemID, a.Source,
			fmt.Sprintf("%s alert %d %s at the source", a.Source, r.AlertID, a.Status))
	}
}

// SetStatus changes an alert's status at its source's word, and tells the
// reactor when that left the alert's item resolved at the source. It
// reports whether the alert is known.
func (p *Pipeline) SetStatus(ctx context.Context, source, sourceID string, status alert.Status, actor, why string) (bool, error) {
	st, ok := p.store.(StatusStore)
	if !ok {
		return false, fmt.Errorf("set alert status: the store cannot change statuses")
	}
	ch, err := st.ChangeAlertStatus(ctx, source, sourceID, status, actor, why)
	if err != nil {
		return false, err
	}
	if ch.SourceResolved && p.reactor != nil {
		p.reactor.SourceResolved(ctx, ch.WorkItemID, source, fmt.Sprintf("%s alert %d %s at the source (%s)", source, ch.AlertID, status, why))
	}
	return ch.Found, nil
}

// Run starts the writers and blocks until ctx is done and every queued
// request has been answered.
func (p *Pipeline) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range p.writers {
		wg.Go(func() { p.writer(ctx) })
	}
	<-ctx.Done()
	p.mu.Lock()
	p.stopped = true
	close(p.queue)
	p.mu.Unlock()
	wg.Wait()
}

func (p *Pipeline) writer(ctx context.Context) {
	// Commits use a context that outlives shutdown: requests already
	// queued are stored and answered rather than dropped halfway.
	wctx := context.WithoutCancel(ctx)
	for {
		first, ok := <-p.queue
		if !ok {
			return
		}
		group := []*request{first}
		n := len(first.alerts)
	drain:
		for n < p.maxBatch {
			select {
			case r, ok := <-p.queue:
				if !ok {
					break drain
				}
				group = append(group, r)
				n += len(r.alerts)
			default:
				break drain
			}
		}
		p.commit(wctx, group)
	}
}

// commit stores a group of requests, one transaction per actor (the
// timeline names who sent each alert). If a transaction fails, its
// requests are retried one by one so that one bad request cannot fail
// the others that happened to share its transaction.
func (p *Pipeline) commit(ctx context.Context, group []*request) {
	byActor := map[string][]*request{}
	var order []string
	for _, r := range group {
		if _, ok := byActor[r.actor]; !ok {
			order = append(order, r.actor)
		}
		byActor[r.actor] = append(byActor[r.actor], r)
	}
	for _, actor := range order {
		reqs := byActor[actor]
		var all []store.Prepared
		for _, r := range reqs {
			all = append(all, r.alerts...)
		}
		results, err := p.store1(ctx, actor, all)
		if err != nil && len(reqs) > 1 {
			p.log.Warn("group commit failed; retrying requests one by one", "requests", len(reqs), "err", err)
			for _, r := range reqs {
				r.results, r.err = p.store1(ctx, actor, r.alerts)
				close(r.done)
			}
			continue
		}
		off := 0
		for _, r := range reqs {
			if err != nil {
				r.err = err
			} else {
				r.results = results[off : off+len(r.alerts)]
				off += len(r.alerts)
			}
			close(r.done)
		}
	}
}

func (p *Pipeline) store1(ctx context.Context, actor string, alerts []store.Prepared) ([]store.IngestResult, error) {
	start := time.Now()
	results, err := p.store.IngestPrepared(ctx, p.proc, actor, alerts)
	if err != nil {
		p.log.Error("ingest transaction failed", "alerts", len(alerts), "err", err)
		return nil, fmt.Errorf("store alerts: %w", err)
	}
	p.commitTime.Observe(time.Since(start).Seconds())
	p.batchSize.Observe(float64(len(alerts)))
	for _, r := range results {
		p.alertsTotal.WithLabelValues(string(r.Outcome)).Inc()
	}
	return results, nil
}
