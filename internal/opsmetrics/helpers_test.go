package opsmetrics

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// gather registers cs with a pedantic registry (which checks that what
// is collected matches what is described) and returns every sample as
// `name{label="value",…}` → value; a histogram gives its _count and _sum.
func gather(t *testing.T, cs ...prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var parts []string
			for _, l := range m.GetLabel() {
				parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			ls := ""
			if len(parts) > 0 {
				ls = "{" + strings.Join(parts, ",") + "}"
			}
			switch {
			case m.GetGauge() != nil:
				out[mf.GetName()+ls] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[mf.GetName()+ls] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[mf.GetName()+"_count"+ls] = float64(m.GetHistogram().GetSampleCount())
				out[mf.GetName()+"_sum"+ls] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

func diff(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	if maps.Equal(got, want) {
		return
	}
	keys := slices.Sorted(maps.Keys(got))
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	var b strings.Builder
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !wok:
			fmt.Fprintf(&b, "\n  unexpected %s = %v", k, g)
		case !gok:
			fmt.Fprintf(&b, "\n  missing    %s (want %v)", k, w)
		case g != w:
			fmt.Fprintf(&b, "\n  %s = %v, want %v", k, g, w)
		}
	}
	t.Errorf("%s:%s", what, b.String())
}

// ingest stores one alert per severity given and returns their items.
func ingest(t *testing.T, db *store.DB, sevs ...alert.Severity) []int64 {
	t.Helper()
	var as []alert.Alert
	for i, sev := range sevs {
		id := fmt.Sprintf("a%d", i)
		raw, _ := json.Marshal(map[string]string{"id": id})
		a := alert.Alert{Source: "sentinel", SourceID: id, Title: "alert " + id, Severity: sev, Raw: raw}
		if err := a.Normalize(t0); err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	res, err := db.Ingest(context.Background(), workitem.DefaultProcess(), "test", as)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	ids := make([]int64, len(res))
	for i, r := range res {
		ids[i] = r.WorkItemID
	}
	return ids
}
