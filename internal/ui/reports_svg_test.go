package ui

import (
	"encoding/xml"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func fp(v float64) *float64 { return &v }

// wellFormed fails unless svg parses as XML.
func wellFormed(t *testing.T, svg string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
	}
}

var pathRE = regexp.MustCompile(`<path class="series" data-series="([^"]*)" d="([^"]*)"`)

// TestLineSVGGaps: a missing value breaks the line, where a zero would
// draw it down to the axis; a series with nothing draws no line.
func TestLineSVGGaps(t *testing.T) {
	for _, tc := range []struct {
		name      string
		values    []*float64
		wantRuns  int // separate stretches of line
		wantMarks int // points drawn
	}{
		{"all present", []*float64{fp(60), fp(120), fp(180)}, 1, 3},
		{"gap in the middle", []*float64{fp(60), nil, fp(180)}, 2, 2},
		{"gap at the start", []*float64{nil, fp(120), fp(180)}, 1, 2},
		{"two gaps", []*float64{fp(60), nil, fp(90), nil, fp(30)}, 3, 3},
		{"zero is a value", []*float64{fp(60), fp(0), fp(180)}, 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			labels := make([]string, len(tc.values))
			for i := range labels {
				labels[i] = string(rune('a' + i))
			}
			svg := string(lineSVG(chartSpec{ID: "c", Title: "T", Labels: labels, Unit: unitDuration,
				Series: []chartSeries{{Name: "Median TTA", Values: tc.values}}}))
			wellFormed(t, svg)
			m := pathRE.FindAllStringSubmatch(svg, -1)
			if len(m) != 1 {
				t.Fatalf("got %d series paths, want 1:\n%s", len(m), svg)
			}
			if got := strings.Count(m[0][2], "M"); got != tc.wantRuns {
				t.Errorf("path %q has %d runs, want %d", m[0][2], got, tc.wantRuns)
			}
			if got := strings.Count(svg, `class="point"`); got != tc.wantMarks {
				t.Errorf("%d points drawn, want %d", got, tc.wantMarks)
			}
			// No point stands for a missing value.
			for i, v := range tc.values {
				if v == nil && strings.Contains(svg, "Median TTA, "+labels[i]+":") {
					t.Errorf("a point is drawn for missing %s", labels[i])
				}
			}
		})
	}
}

// TestLineSVGGapIsNotZero: the points either side of a gap are joined by
// no segment, and nothing is drawn on the zero line.
func TestLineSVGGapIsNotZero(t *testing.T) {
	svg := string(lineSVG(chartSpec{ID: "c", Title: "T", Labels: []string{"a", "b", "c"}, Unit: unitCount,
		Series: []chartSeries{{Name: "S", Values: []*float64{fp(4), nil, fp(4)}}}}))
	d := pathRE.FindStringSubmatch(svg)[2]
	// The axis's zero is at the plot's bottom.
	zeroY := coord(float64(chartH - padBot))
	for _, seg := range strings.FieldsFunc(d, func(r rune) bool { return r == 'M' || r == 'L' }) {
		if strings.HasSuffix(strings.TrimSpace(seg), " "+zeroY) {
			t.Errorf("path %q touches the zero line (y=%s)", d, zeroY)
		}
	}
	if strings.Contains(d, "L") {
		t.Errorf("path %q joins the points across the gap", d)
	}
}

// TestChartsWithoutData: a chart with no figure says "no data" and draws
// no series.
func TestChartsWithoutData(t *testing.T) {
	none := []chartSeries{{Name: "S", Values: []*float64{nil, nil}}}
	for _, tc := range []struct {
		name string
		draw func(chartSpec) string
		spec chartSpec
	}{
		{"line, all missing", func(c chartSpec) string { return string(lineSVG(c)) }, chartSpec{Labels: []string{"a", "b"}, Series: none}},
		{"line, no buckets", func(c chartSpec) string { return string(lineSVG(c)) }, chartSpec{Series: []chartSeries{{Name: "S"}}}},
		{"bars, all missing", func(c chartSpec) string { return string(barSVG(c)) }, chartSpec{Labels: []string{"a", "b"}, Series: none}},
		{"bars, no categories", func(c chartSpec) string { return string(barSVG(c)) }, chartSpec{}},
		{"horizontal bars, no rows", func(c chartSpec) string { return string(hbarSVG(c)) }, chartSpec{Series: none}},
		{"area, no points", func(c chartSpec) string { return string(areaSVG(c)) }, chartSpec{Series: []chartSeries{{Name: "New"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.ID, tc.spec.Title = "empty", "Nothing"
			svg := tc.draw(tc.spec)
			wellFormed(t, svg)
			for _, want := range []string{`role="img"`, `<title>Nothing</title>`, `aria-label="Nothing: no data in this period."`, `>no data</text>`} {
				if !strings.Contains(svg, want) {
					t.Errorf("lacks %s:\n%s", want, svg)
				}
			}
			for _, unwanted := range []string{`class="series"`, `class="bar"`, `class="band"`, `class="point"`} {
				if strings.Contains(svg, unwanted) {
					t.Errorf("draws %s with no data", unwanted)
				}
			}
		})
	}
}

// TestBarSVGMissingBar: a missing value is written "no data" where its
// bar would stand, and gets no bar (not one of height zero).
func TestBarSVGMissingBar(t *testing.T) {
	svg := string(barSVG(chartSpec{ID: "states", Title: "Time in state", Labels: []string{"New", "Active", "Verification"}, Unit: unitDuration,
		Series: []chartSeries{{Name: "Median", Values: []*float64{fp(600), nil, fp(0)}}}}))
	wellFormed(t, svg)
	if got := strings.Count(svg, `class="bar"`); got != 2 {
		t.Errorf("%d bars, want 2 (New, and Verification's zero)", got)
	}
	if got := strings.Count(svg, `class="nodata"`); got != 1 {
		t.Errorf("%d no-data labels, want 1", got)
	}
	if strings.Contains(svg, "Median, Active") {
		t.Error("a bar is drawn for Active, which has no data")
	}
	if !strings.Contains(svg, "Median, Verification: 0 s") {
		t.Error("Verification's zero is not drawn as a value")
	}
}

// TestSVGAccessible: every chart has role img, a title, a summary naming
// its figures, and escapes what it is given.
func TestSVGAccessible(t *testing.T) {
	spec := chartSpec{ID: "x", Title: `Noise <by> "rule"`, XLabel: "day", Noun: "days", Labels: []string{"<script>alert(1)</script>", "b"}, Unit: unitCount,
		Series: []chartSeries{{Name: "A&B", Values: []*float64{fp(3), nil}}, {Name: "C", Values: []*float64{fp(1), fp(2)}}}}
	for name, svg := range map[string]string{
		"line": string(lineSVG(spec)), "bar": string(barSVG(spec)), "hbar": string(hbarSVG(spec)), "area": string(areaSVG(spec)),
		"stacked": string(barSVG(chartSpec{ID: spec.ID, Title: spec.Title, Labels: spec.Labels, Series: spec.Series, Stacked: true})),
	} {
		t.Run(name, func(t *testing.T) {
			wellFormed(t, svg)
			if strings.Contains(svg, "<script>") {
				t.Error("a label is not escaped")
			}
			for _, want := range []string{`role="img"`, `<title>Noise &lt;by&gt; &#34;rule&#34;</title>`, `aria-label="Noise`} {
				if !strings.Contains(svg, want) {
					t.Errorf("lacks %s", want)
				}
			}
			// Series are told apart by more than colour: each has a
			// pattern of its own.
			if !strings.Contains(svg, `id="x-p0"`) || !strings.Contains(svg, `id="x-p1"`) {
				t.Error("the series have no patterns")
			}
		})
	}
	sum := spec.summarize()
	for _, want := range []string{"A&B: highest 3 (<script>alert(1)</script>)", "no data for 1 of 2 days", "C: highest 2 (b), lowest 1"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary %q lacks %q", sum, want)
		}
	}
}

// TestNewAxis: ticks start at zero, reach past the highest value, and
// fall on round numbers of the value's unit.
func TestNewAxis(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    float64
		unit   chartUnit
		labels []string
	}{
		{"counts", 7, unitCount, []string{"0", "2", "4", "6", "8"}},
		{"small counts are whole", 2, unitCount, []string{"0", "1", "2"}},
		{"zero counts", 0, unitCount, []string{"0", "1"}},
		{"thousands", 12345, unitCount, []string{"0", "2,500", "5,000", "7,500", "10,000", "12,500"}},
		{"under a second", 0.01, unitDuration, []string{"0 s", "0.2 s", "0.4 s", "0.6 s", "0.8 s", "1 s"}},
		{"seconds", 45, unitDuration, []string{"0 s", "10 s", "20 s", "30 s", "40 s", "50 s"}},
		{"minutes", 5400, unitDuration, []string{"0 min", "20 min", "40 min", "60 min", "80 min", "100 min"}},
		{"hours", 30 * 3600, unitDuration, []string{"0 h", "10 h", "20 h", "30 h"}},
		{"days", 9 * 86400, unitDuration, []string{"0 d", "2 d", "4 d", "6 d", "8 d", "10 d"}},
		{"shares", 0.4, unitShare, []string{"0%", "25%", "50%", "75%", "100%"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAxis(tc.max, tc.unit)
			var got []string
			for _, v := range a.ticks {
				got = append(got, a.label(v))
			}
			if !slices.Equal(got, tc.labels) {
				t.Errorf("ticks %q, want %q", got, tc.labels)
			}
			if a.max < tc.max {
				t.Errorf("axis ends at %v, below the highest value %v", a.max, tc.max)
			}
		})
	}
}

// TestAreaSVGStacks: each band lies on the one below it, so the top of
// the last is the total.
func TestAreaSVGStacks(t *testing.T) {
	svg := string(areaSVG(chartSpec{ID: "cfd", Title: "Flow", Labels: []string{"d1", "d2"}, Unit: unitCount,
		Series: []chartSeries{{Name: "Closed", Values: []*float64{fp(2), fp(6)}}, {Name: "New", Values: []*float64{fp(4), fp(2)}}}}))
	wellFormed(t, svg)
	if got := strings.Count(svg, `class="band"`); got != 2 {
		t.Fatalf("%d bands, want 2", got)
	}
	for _, want := range []string{"Closed: 6 at the end", "New: 2 at the end"} {
		if !strings.Contains(svg, want) {
			t.Errorf("lacks %q", want)
		}
	}
}

// TestHbarSVGNoneClosed: a detection with items but nothing closed says
// so instead of drawing an empty bar.
func TestHbarSVGNoneClosed(t *testing.T) {
	svg := string(hbarSVG(chartSpec{ID: "q", Title: "Quality", Labels: []string{"Brute force", "Impossible travel"}, Unit: unitCount, Stacked: true,
		Series: []chartSeries{{Name: "True positive", Values: []*float64{fp(1), fp(0)}}, {Name: "False positive", Values: []*float64{fp(3), fp(0)}}}}))
	wellFormed(t, svg)
	if got := strings.Count(svg, `class="bar"`); got != 2 {
		t.Errorf("%d bar segments, want 2", got)
	}
	if !strings.Contains(svg, ">none closed</text>") {
		t.Error("the detection with nothing closed does not say so")
	}
}
