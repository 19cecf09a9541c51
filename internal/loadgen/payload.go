package loadgen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
)

// Formats the tool can send.
const (
	FormatVigil        = "vigil"        // POST /api/v1/alerts, vigil's native alert objects
	FormatAlertmanager = "alertmanager" // POST /api/v2/alerts, Alertmanager postableAlerts
)

// Source is the source field of every vigil-format alert. One fixed source
// means (Source, SourceID(seed, n)) names an alert exactly, which is what a
// crash test reading the ack log needs.
const Source = "loadgen"

// SourceID is the source_id of alert identity n of a run with this seed, as
// written to the ack log. In the Alertmanager format it is the value of the
// source_id label.
func SourceID(seed, n int64) string {
	return "lg-" + strconv.FormatInt(seed, 10) + "-" + strconv.FormatInt(n, 10)
}

// ReadAckLog returns the source ids of an ack log (see Config.AckLog), in
// the order they were acknowledged. An alert sent more than once (--keys)
// appears once per acknowledgement.
func ReadAckLog(r io.Reader) ([]string, error) {
	var ids []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			ids = append(ids, line)
		}
	}
	return ids, sc.Err()
}

// maxPool bounds the pre-rendered alert templates. Alert identity n uses
// template n mod pool, so with --keys 0 the content repeats every maxPool
// alerts while every source_id stays unique. 4096 renders in a few tens of
// milliseconds and covers every catalogue type with varied entities many
// times over.
const maxPool = 4096

// Markers are rendered into the templates and cut out again; a body is then
// assembled by appending byte slices, which costs about a memcpy per alert
// during the timed run instead of a JSON encode.
const (
	idMarker = "@@LGID@@"
	tsMarker = "@@LGTS@@"
)

// fragment is one pre-rendered alert: pre + id + mid + timestamp + post.
type fragment struct{ pre, mid, post []byte }

// generator builds request bodies. It is read-only after newGenerator, so
// workers share it without locks.
type generator struct {
	format string
	seed   int64
	keys   int64
	batch  int64
	frags  []fragment
	// bodyCap is a generous estimate of one body's size, to allocate once.
	bodyCap int
}

// vigilWire is the native API's alert object with the two dynamic fields
// as strings, so the markers survive encoding.
type vigilWire struct {
	Source      string         `json:"source"`
	SourceID    string         `json:"source_id"`
	Product     string         `json:"product"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Severity    alert.Severity `json:"severity"`
	Status      alert.Status   `json:"status"`
	Entities    []alert.Entity `json:"entities"`
	FirstSeen   string         `json:"first_seen"`
	LastSeen    string         `json:"last_seen"`
}

// amWire is one Alertmanager API v2 postableAlert.
type amWire struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// newGenerator renders the templates. base anchors first_seen/startsAt: it
// is the run's start, so every alert started shortly before the run.
func newGenerator(format string, seed int64, keys, batch int, base time.Time) (*generator, error) {
	if format != FormatVigil && format != FormatAlertmanager {
		return nil, fmt.Errorf("unknown format %q (want %s or %s)", format, FormatVigil, FormatAlertmanager)
	}
	pool := maxPool
	if keys > 0 && keys < pool {
		// Fewer identities than the pool: one template per identity, so
		// every identity has distinct content.
		pool = keys
	}
	g := &generator{format: format, seed: seed, keys: int64(keys), batch: int64(batch), frags: make([]fragment, pool)}
	subs := subscriptions(seed)
	base = base.UTC().Truncate(time.Second)
	idPrefix := SourceID(seed, 0)
	idPrefix = idPrefix[:len(idPrefix)-1] + idMarker // "lg-<seed>-@@LGID@@"
	maxLen := 0
	for j := range g.frags {
		// One stream per template: template j depends only on (seed, j),
		// not on the pool size or the order of generation.
		r := rand.New(rand.NewPCG(uint64(seed), uint64(j)+1))
		t := &catalogue[r.IntN(len(catalogue))]
		e := newEntities(r, subs, t)
		firstSeen := base.Add(-time.Duration(1+r.IntN(240)) * time.Minute).Format(time.RFC3339)
		var v any
		if format == FormatVigil {
			v = vigilWire{
				Source: Source, SourceID: idPrefix, Product: t.product, Title: t.title,
				Description: t.describe(e), Severity: t.severity, Status: alert.StatusNew,
				Entities: e.entities, FirstSeen: firstSeen, LastSeen: tsMarker,
			}
		} else {
			v = amAlertFor(t, e, idPrefix, firstSeen)
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		f, err := cutFragment(raw)
		if err != nil {
			return nil, err
		}
		g.frags[j] = f
		maxLen = max(maxLen, len(raw))
	}
	g.bodyCap = batch*(maxLen+24) + 2
	return g, nil
}

// amAlertFor maps one logical alert to Alertmanager labels and annotations
// the way a Prometheus-style rule would: identity in labels, prose in
// annotations. The source_id label makes identities distinct (Alertmanager
// identifies an alert by its label set).
func amAlertFor(t *alertType, e *entitySet, sourceID, startsAt string) amWire {
	labels := map[string]string{
		"alertname": t.alertAM,
		"severity":  string(t.severity),
		"job":       t.job,
		"product":   t.product,
		"tactic":    t.tactic,
		"source_id": sourceID,
	}
	instance := e.resName
	byKind := map[alert.EntityKind][]string{}
	for _, en := range e.entities {
		byKind[en.Kind] = append(byKind[en.Kind], en.Value)
		switch en.Kind {
		case alert.EntityHost:
			instance = en.Value
		case alert.EntityAccount:
			labels["user"] = en.Value
		case alert.EntityIP:
			if labels["src_ip"] == "" {
				labels["src_ip"] = en.Value
			}
		}
	}
	if instance == "" {
		instance = e.upn
	}
	labels["instance"] = instance
	ann := map[string]string{
		"summary":     t.title,
		"description": t.describe(e),
		"runbook_url": "https://wiki.contoso.example/runbooks/" + t.alertAM,
	}
	for k, vs := range byKind {
		ann[string(k)] = strings.Join(vs, ", ")
	}
	return amWire{
		Labels: labels, Annotations: ann, StartsAt: startsAt, EndsAt: tsMarker,
		GeneratorURL: "https://portal.azure.example/#view/Microsoft_Azure_Security/AlertBlade/alertName/" + t.alertAM,
	}
}

// cutFragment splits a rendered alert at its markers. The id marker must
// come first; both formats put it (source_id, labels) before the time.
func cutFragment(raw []byte) (fragment, error) {
	pre, rest, ok := bytes.Cut(raw, []byte(idMarker))
	if !ok {
		return fragment{}, fmt.Errorf("loadgen: template lost its id marker")
	}
	mid, post, ok := bytes.Cut(rest, []byte(tsMarker))
	if !ok || bytes.Contains(post, []byte(idMarker)) || bytes.Contains(post, []byte(tsMarker)) {
		return fragment{}, fmt.Errorf("loadgen: template markers out of order")
	}
	return fragment{pre: pre, mid: mid, post: post}, nil
}

// alertID is the identity of the n-th alert sent: n itself, or n cycled
// through keys so that repeats update existing alerts.
func (g *generator) alertID(n int64) int64 {
	if g.keys > 0 {
		return n % g.keys
	}
	return n
}

// stamp is the dynamic time of a request: last_seen for vigil (the alert was
// seen again now), endsAt for Alertmanager (a firing alert's endsAt lies
// ahead, as Prometheus sends it).
func (g *generator) stamp(now time.Time) []byte {
	t := now.UTC()
	if g.format == FormatAlertmanager {
		t = t.Add(5 * time.Minute)
	}
	return t.AppendFormat(nil, time.RFC3339)
}

// body returns the JSON array for request number req, sent at now.
func (g *generator) body(req int64, now time.Time) []byte {
	ts := g.stamp(now)
	dst := make([]byte, 0, g.bodyCap)
	dst = append(dst, '[')
	first := req * g.batch
	for i := range g.batch {
		if i > 0 {
			dst = append(dst, ',')
		}
		id := g.alertID(first + i)
		f := &g.frags[id%int64(len(g.frags))]
		dst = append(dst, f.pre...)
		dst = strconv.AppendInt(dst, id, 10)
		dst = append(dst, f.mid...)
		dst = append(dst, ts...)
		dst = append(dst, f.post...)
	}
	return append(dst, ']')
}

// ackLines returns the ack-log lines of request number req.
func (g *generator) ackLines(req int64) []byte {
	var dst []byte
	first := req * g.batch
	for i := range g.batch {
		dst = append(dst, "lg-"...)
		dst = strconv.AppendInt(dst, g.seed, 10)
		dst = append(dst, '-')
		dst = strconv.AppendInt(dst, g.alertID(first+i), 10)
		dst = append(dst, '\n')
	}
	return dst
}
