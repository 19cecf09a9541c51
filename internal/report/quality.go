package report

import (
	"context"
	"slices"
	"time"
)

// QualityRow is one detection's record: its volume and how its items were
// classified when closed.
type QualityRow struct {
	Key    string `json:"key"`
	Items  int64  `json:"items"`
	Closed int64  `json:"closed"`
	// Counts and shares of the closed items by classification; a share is
	// nil when nothing is closed.
	TruePositive        int64    `json:"true_positive"`
	BenignPositive      int64    `json:"benign_positive"`
	FalsePositive       int64    `json:"false_positive"`
	Undetermined        int64    `json:"undetermined"`
	TruePositiveShare   *float64 `json:"true_positive_share"`
	BenignPositiveShare *float64 `json:"benign_positive_share"`
	FalsePositiveShare  *float64 `json:"false_positive_share"`
	UndeterminedShare   *float64 `json:"undetermined_share"`
	// Acted counts items a person did anything on; NeverActed is true
	// when nobody acted on any of the detection's items.
	Acted      int64 `json:"acted"`
	NeverActed bool  `json:"never_acted"`
	// ClosedByRule counts items an automation rule closed.
	ClosedByRule int64    `json:"closed_by_rule"`
	MedianTTR    *float64 `json:"median_ttr_seconds"`
}

// Noise is the row's false and benign positives: what the noisiest order
// sorts by.
func (r QualityRow) Noise() int64 { return r.FalsePositive + r.BenignPositive }

// Suppression is one automation rule's suppressions and the analyst time
// they are estimated to have saved.
type Suppression struct {
	Rule string `json:"rule"`
	// Hits counts the alerts it suppressed, ClosedItems the items it
	// closed.
	Hits int64 `json:"hits"`
	// SavedSeconds is Hits × the median handling time; nil when no item
	// was closed by a person in the period to estimate it from.
	SavedSeconds *float64 `json:"saved_seconds"`
}

// Quality is the detection quality report.
type Quality struct {
	Period Period       `json:"period"`
	Filter Filter       `json:"filter"`
	By     string       `json:"by"`
	Exact  bool         `json:"exact"`
	Rows   []QualityRow `json:"rows"`
	// NeverActed lists the detections whose items nobody acted on.
	NeverActed []string `json:"never_acted"`
	// MedianHandleSeconds is the median time to resolve of the items a
	// person closed: what one suppressed alert is estimated to save.
	MedianHandleSeconds *float64      `json:"median_handle_seconds"`
	Suppressions        []Suppression `json:"suppressions"`
}

// QualityDims are the groupings the detection quality report offers.
var QualityDims = []string{DimRule, DimAlertType, DimSource}

// Quality computes the detection quality per rule, alert type or source
// (by), the noisiest first.
func (s *Service) Quality(ctx context.Context, p Period, f Filter, by string) (Quality, error) {
	if !slices.Contains(QualityDims, by) {
		by = DimRule
	}
	f, err := s.resolve(ctx, f)
	if err != nil {
		return Quality{}, err
	}
	buckets, exact, err := s.collect(ctx, []time.Time{p.From, p.To}, f, by, needTTR|needHandle)
	if err != nil {
		return Quality{}, err
	}
	groups := total(buckets)
	q := Quality{Period: p, Filter: f, By: by, Exact: exact, Rows: []QualityRow{}, NeverActed: []string{}, Suppressions: []Suppression{}}
	handle := &Dist{}
	for k, a := range groups {
		handle.Merge(a.Handle)
		r := QualityRow{Key: k, Items: a.Items, Closed: a.Closed, TruePositive: a.Classes[TruePositive], BenignPositive: a.Classes[BenignPositive],
			FalsePositive: a.Classes[FalsePositive], Undetermined: a.Classes[Undetermined], Acted: a.Acted, NeverActed: a.Items > 0 && a.Acted == 0,
			ClosedByRule: a.ClosedByRule}
		if a.Closed > 0 {
			share := func(n int64) *float64 { v := float64(n) / float64(a.Closed); return &v }
			r.TruePositiveShare, r.BenignPositiveShare = share(r.TruePositive), share(r.BenignPositive)
			r.FalsePositiveShare, r.UndeterminedShare = share(r.FalsePositive), share(r.Undetermined)
		}
		r.MedianTTR = statOf(a.TTR).Median
		q.Rows = append(q.Rows, r)
		if r.NeverActed {
			q.NeverActed = append(q.NeverActed, k)
		}
	}
	slices.SortFunc(q.Rows, func(a, b QualityRow) int {
		if a.Noise() != b.Noise() {
			return int(b.Noise() - a.Noise())
		}
		if a.Items != b.Items {
			return int(b.Items - a.Items)
		}
		if a.Key < b.Key {
			return -1
		}
		return 1
	})
	slices.Sort(q.NeverActed)
	q.MedianHandleSeconds = statOf(handle).Median
	sup, err := s.st.ReportSuppressed(ctx, p.From, p.To)
	if err != nil {
		return Quality{}, err
	}
	for name, n := range sup {
		x := Suppression{Rule: name, Hits: n}
		if q.MedianHandleSeconds != nil {
			v := float64(n) * *q.MedianHandleSeconds
			x.SavedSeconds = &v
		}
		q.Suppressions = append(q.Suppressions, x)
	}
	slices.SortFunc(q.Suppressions, func(a, b Suppression) int {
		if a.Hits != b.Hits {
			return int(b.Hits - a.Hits)
		}
		if a.Rule < b.Rule {
			return -1
		}
		return 1
	})
	return q, nil
}
