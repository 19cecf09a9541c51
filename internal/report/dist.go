package report

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Dist is a distribution of durations in seconds. Built from items it
// keeps every value, and its percentiles are exact; read from daily
// roll-ups it keeps a histogram (Buckets), whose percentiles are within
// the buckets' 2% width.
type Dist struct {
	N       int64
	Sum     float64
	vals    []float64
	buckets map[int]int64
}

// Add adds one value.
func (d *Dist) Add(seconds float64) {
	if seconds < 0 {
		seconds = 0
	}
	d.N++
	d.Sum += seconds
	if d.buckets != nil {
		d.buckets[bucketOf(seconds)]++
		return
	}
	d.vals = append(d.vals, seconds)
}

// Merge adds another distribution's values. Merging a histogram turns this
// one into a histogram.
func (d *Dist) Merge(o *Dist) {
	if o == nil || o.N == 0 {
		return
	}
	if o.buckets != nil && d.buckets == nil {
		d.toBuckets()
	}
	d.N += o.N
	d.Sum += o.Sum
	if d.buckets != nil {
		for _, v := range o.vals {
			d.buckets[bucketOf(v)]++
		}
		for b, c := range o.buckets {
			d.buckets[b] += c
		}
		return
	}
	d.vals = append(d.vals, o.vals...)
}

func (d *Dist) toBuckets() {
	d.buckets = map[int]int64{}
	for _, v := range d.vals {
		d.buckets[bucketOf(v)]++
	}
	d.vals = nil
}

// Exact reports whether the percentiles are exact.
func (d *Dist) Exact() bool { return d.buckets == nil }

// Mean is the arithmetic mean; ok is false with no data.
func (d *Dist) Mean() (float64, bool) {
	if d == nil || d.N == 0 {
		return 0, false
	}
	return d.Sum / float64(d.N), true
}

// Percentile is the p-th percentile (0 < p ≤ 1), interpolated linearly
// between the closest ranks as PostgreSQL's percentile_cont and
// spreadsheets' PERCENTILE.INC do: with values sorted v[0..n-1], the
// rank is p·(n−1). ok is false with no data.
func (d *Dist) Percentile(p float64) (float64, bool) {
	if d == nil || d.N == 0 {
		return 0, false
	}
	if d.buckets == nil {
		if !slices.IsSorted(d.vals) {
			slices.Sort(d.vals)
		}
		r := p * float64(len(d.vals)-1)
		lo := int(math.Floor(r))
		hi := int(math.Ceil(r))
		return d.vals[lo] + (d.vals[hi]-d.vals[lo])*(r-float64(lo)), true
	}
	keys := make([]int, 0, len(d.buckets))
	for k := range d.buckets {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	// The value at an integer rank is its bucket's middle; between two
	// ranks it is interpolated as for exact values.
	at := func(rank int64) float64 {
		var seen int64
		for _, k := range keys {
			seen += d.buckets[k]
			if seen > rank {
				return bucketMid(k)
			}
		}
		return bucketMid(keys[len(keys)-1])
	}
	r := p * float64(d.N-1)
	lo, hi := int64(math.Floor(r)), int64(math.Ceil(r))
	vlo := at(lo)
	if hi == lo {
		return vlo, true
	}
	return vlo + (at(hi)-vlo)*(r-float64(lo)), true
}

// Buckets below one minute are whole seconds; above, each is 2% wider
// than the one before.
const (
	linearBuckets = 60
	growth        = 1.02
)

func bucketOf(s float64) int {
	if s < linearBuckets {
		return int(s)
	}
	return linearBuckets + int(math.Log(s/linearBuckets)/math.Log(growth))
}

func bucketLow(b int) float64 {
	if b < linearBuckets {
		return float64(b)
	}
	return linearBuckets * math.Pow(growth, float64(b-linearBuckets))
}

func bucketMid(b int) float64 {
	if b < linearBuckets {
		return float64(b) + 0.5
	}
	return (bucketLow(b) + bucketLow(b+1)) / 2
}

// encode writes the distribution as its histogram: "n sum b:c b:c …".
func (d *Dist) encode() string {
	if d == nil || d.N == 0 {
		return ""
	}
	h := map[int]int64{}
	for _, v := range d.vals {
		h[bucketOf(v)]++
	}
	for b, c := range d.buckets {
		h[b] += c
	}
	keys := make([]int, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var sb strings.Builder
	sb.WriteString(strconv.FormatInt(d.N, 10))
	sb.WriteByte(' ')
	sb.WriteString(strconv.FormatFloat(d.Sum, 'f', 3, 64))
	for _, k := range keys {
		sb.WriteByte(' ')
		sb.WriteString(strconv.Itoa(k))
		sb.WriteByte(':')
		sb.WriteString(strconv.FormatInt(h[k], 10))
	}
	return sb.String()
}

// decodeDist reads what encode wrote; a malformed string gives an empty
// distribution.
func decodeDist(s string) *Dist {
	d := &Dist{buckets: map[int]int64{}}
	f := strings.Fields(s)
	if len(f) < 2 {
		return d
	}
	n, err1 := strconv.ParseInt(f[0], 10, 64)
	sum, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil {
		return d
	}
	for _, kv := range f[2:] {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return &Dist{buckets: map[int]int64{}}
		}
		b, err1 := strconv.Atoi(k)
		c, err2 := strconv.ParseInt(v, 10, 64)
		if err1 != nil || err2 != nil {
			return &Dist{buckets: map[int]int64{}}
		}
		d.buckets[b] += c
	}
	d.N, d.Sum = n, sum
	return d
}
