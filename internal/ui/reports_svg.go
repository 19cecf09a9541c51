package ui

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/report"
)

// The reports' charts are SVG written here, on the server: no charting
// library in the browser, nothing to load, and the page works without
// JavaScript. Styling is done with presentation attributes rather than
// style attributes, which the page's Content-Security-Policy
// (style-src 'self') would block.
//
// A missing figure (nil) is never drawn as zero: a line breaks, a bar
// says "no data", and a chart without any figure says so instead of
// drawing an empty frame.

// chartUnit is what a chart's values measure.
type chartUnit int

const (
	unitCount    chartUnit = iota
	unitDuration           // seconds
	unitShare              // 0 to 1, shown as a percentage
)

// chartSeries is one named row of values, one per category; nil is no
// data.
type chartSeries struct {
	Name   string
	Values []*float64
}

// chartSpec describes one chart.
type chartSpec struct {
	// ID is unique on the page: the chart's patterns and title are named
	// after it.
	ID    string
	Title string
	// Summary is the aria-label; a summary of the figures is written
	// when empty.
	Summary string
	// Noun names the categories in the summary ("days"); "categories"
	// when empty.
	Noun           string
	XLabel, YLabel string
	Labels         []string // the categories, in order
	Series         []chartSeries
	Unit           chartUnit
	Stacked        bool
	// Marks are a reference value per category (an SLO's objective),
	// drawn as a dashed line across its bar; MarkName names them.
	Marks    []*float64
	MarkName string
}

// Geometry of the charts, in the viewBox's units (about pixels).
const (
	chartW   = 760
	chartH   = 300
	padTop   = 40 // room for the legend
	padRight = 24
	padBot   = 52
	padLeft  = 72
)

// seriesPalette is the Okabe–Ito seriesPalette (without its yellow, too light on
// white), which stays distinguishable with the common colour-vision
// deficiencies; every series also has a pattern or marker of its own, so
// colour is never the only cue.
var seriesPalette = []string{"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#6b6b6b", "#1f1f1f"}

func seriesColour(i int) string { return seriesPalette[i%len(seriesPalette)] }

func xmlEsc(s string) string { return html.EscapeString(s) }

// coord writes a coordinate compactly.
func coord(f float64) string { return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64) }

// hasData reports whether any value is present.
func (c chartSpec) hasData() bool {
	if len(c.Labels) == 0 {
		return false
	}
	for _, s := range c.Series {
		for _, v := range s.Values {
			if v != nil {
				return true
			}
		}
	}
	return false
}

func (c chartSpec) value(s, i int) *float64 {
	if s >= len(c.Series) || i >= len(c.Series[s].Values) {
		return nil
	}
	return c.Series[s].Values[i]
}

// open starts the SVG: its accessible name, title and patterns.
func (c chartSpec) open(b *strings.Builder, w, h int) {
	summary := c.Summary
	if summary == "" {
		summary = c.summarize()
	}
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="%s" viewBox="0 0 %d %d" role="img" aria-label="%s" font-family="system-ui, sans-serif" font-size="12">`,
		xmlEsc(c.ID), w, h, xmlEsc(summary))
	fmt.Fprintf(b, `<title>%s</title>`, xmlEsc(c.Title))
	b.WriteString(`<defs>`)
	for i := range c.Series {
		b.WriteString(svgPattern(c.ID, i))
	}
	b.WriteString(`</defs>`)
}

// svgPattern is series i's fill: its colour, overlaid from the second series
// on with white lines or dots of a shape of its own.
func svgPattern(id string, i int) string {
	pid := fmt.Sprintf("%s-p%d", id, i)
	col := seriesColour(i)
	var over string
	rot := ""
	switch i % 7 {
	case 0:
		return fmt.Sprintf(`<pattern id="%s" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="%s"/></pattern>`, xmlEsc(pid), col)
	case 1: // diagonal lines
		over, rot = `<line x1="0" y1="0" x2="0" y2="8" stroke="#fff" stroke-width="2.5"/>`, ` patternTransform="rotate(45)"`
	case 2: // dots
		over = `<circle cx="4" cy="4" r="1.8" fill="#fff"/>`
	case 3: // cross-hatch
		over, rot = `<path d="M0 4H8M4 0V8" stroke="#fff" stroke-width="1.5"/>`, ` patternTransform="rotate(45)"`
	case 4: // horizontal lines
		over = `<line x1="0" y1="4" x2="8" y2="4" stroke="#fff" stroke-width="2"/>`
	case 5: // vertical lines
		over = `<line x1="4" y1="0" x2="4" y2="8" stroke="#fff" stroke-width="2"/>`
	default: // the other diagonal
		over, rot = `<line x1="0" y1="0" x2="0" y2="8" stroke="#fff" stroke-width="2.5"/>`, ` patternTransform="rotate(-45)"`
	}
	return fmt.Sprintf(`<pattern id="%s" width="8" height="8" patternUnits="userSpaceOnUse"%s><rect width="8" height="8" fill="%s"/>%s</pattern>`, xmlEsc(pid), rot, col, over)
}

func fillOf(id string, i int) string { return fmt.Sprintf("url(#%s-p%d)", xmlEsc(id), i) }

// noData is the whole chart when there is nothing to draw.
func (c chartSpec) noData() template.HTML {
	var b strings.Builder
	c.Summary = c.Title + ": no data in this period."
	c.Series = nil
	c.open(&b, chartW, 120)
	fmt.Fprintf(&b, `<rect x="0.5" y="0.5" width="%d" height="119" fill="#f7f9fb" stroke="#d9dfe7"/>`, chartW-1)
	fmt.Fprintf(&b, `<text class="nodata" x="%d" y="64" text-anchor="middle" font-size="14" fill="#5d6b7e">no data</text>`, chartW/2)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// valueAxis is a value axis: its top and its ticks with their labels.
type valueAxis struct {
	max   float64
	ticks []float64
	unit  chartUnit
	scale float64 // seconds per unit of the tick labels (durations)
	word  string  // the unit of the tick labels (durations)
}

// newAxis makes an axis from 0 that holds max with about five ticks at
// round values: whole numbers for counts, quarters for shares, and for
// durations round numbers of seconds, minutes, hours or days.
func newAxis(max float64, unit chartUnit) valueAxis {
	a := valueAxis{unit: unit, scale: 1}
	switch unit {
	case unitShare:
		a.max, a.ticks = 1, []float64{0, 0.25, 0.5, 0.75, 1}
		return a
	case unitDuration:
		switch {
		case max < 120:
			a.scale, a.word = 1, "s"
		case max < 2*3600:
			a.scale, a.word = 60, "min"
		case max < 2*86400:
			a.scale, a.word = 3600, "h"
		default:
			a.scale, a.word = 86400, "d"
		}
	}
	m := max / a.scale
	if m <= 0 || (unit == unitDuration && m < 1) {
		// Sub-second spans (an automated acknowledgement) still get an
		// axis of whole seconds: fractions of a second mean nothing here.
		m = 1
	}
	step := niceStep(m/5, unit != unitCount)
	if unit == unitCount && step < 1 {
		step = 1
	}
	top := math.Ceil(m/step-1e-9) * step
	if top <= 0 {
		top = step
	}
	for v := 0.0; v <= top+step/2; v += step {
		a.ticks = append(a.ticks, v*a.scale)
	}
	a.max = top * a.scale
	return a
}

// niceStep rounds raw up to 1, 2, 2.5 or 5 times a power of ten; without
// quarters (counts, whose ticks must be whole) 2.5 only when it makes a
// whole number (25, 250).
func niceStep(raw float64, quarters bool) float64 {
	if raw <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m == 2.5 && !quarters && m*mag != math.Trunc(m*mag) {
			continue
		}
		if m*mag >= raw*(1-1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}

// label writes a tick's value.
func (a valueAxis) label(v float64) string {
	switch a.unit {
	case unitShare:
		return strconv.FormatFloat(math.Round(v*100), 'f', -1, 64) + "%"
	case unitDuration:
		return strconv.FormatFloat(math.Round(v/a.scale*1e6)/1e6, 'f', -1, 64) + " " + a.word
	}
	return thousands(int(math.Round(v)))
}

// valueText writes a figure for people, as the tables do.
func valueText(v float64, unit chartUnit) string {
	switch unit {
	case unitShare:
		return percent(v)
	case unitDuration:
		return report.HumanDuration(v)
	}
	if v == math.Trunc(v) {
		return thousands(int(v))
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func percent(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/10, 'f', -1, 64) + "%"
}

// plotArea is the drawing area of a chart with a vertical value axis.
type plotArea struct {
	x0, y0, x1, y1 float64 // left, top, right, bottom
	ax             valueAxis
}

func (p plotArea) y(v float64) float64 {
	if p.ax.max <= 0 {
		return p.y1
	}
	return p.y1 - v/p.ax.max*(p.y1-p.y0)
}

// frame draws the value axis with its grid lines and label, and the
// x axis's label.
func (c chartSpec) frame(b *strings.Builder, p plotArea, w, h int) {
	for _, t := range p.ax.ticks {
		y := p.y(t)
		fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e3e7ee"/>`, coord(p.x0), coord(y), coord(p.x1), coord(y))
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="end" fill="#5d6b7e">%s</text>`, coord(p.x0-6), coord(y+4), xmlEsc(p.ax.label(t)))
	}
	fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#5d6b7e"/>`, coord(p.x0), coord(p.y1), coord(p.x1), coord(p.y1))
	fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#5d6b7e"/>`, coord(p.x0), coord(p.y0), coord(p.x0), coord(p.y1))
	if c.YLabel != "" {
		fmt.Fprintf(b, `<text x="14" y="%s" text-anchor="middle" transform="rotate(-90 14 %s)" fill="#18202b">%s</text>`,
			coord((p.y0+p.y1)/2), coord((p.y0+p.y1)/2), xmlEsc(c.YLabel))
	}
	if c.XLabel != "" {
		fmt.Fprintf(b, `<text x="%s" y="%d" text-anchor="middle" fill="#18202b">%s</text>`, coord((p.x0+p.x1)/2), h-8, xmlEsc(c.XLabel))
	}
}

// xLabels writes the category labels under the x axis at xs, skipping
// some when they would overlap.
func (c chartSpec) xLabels(b *strings.Builder, p plotArea, xs []float64) {
	if len(xs) == 0 {
		return
	}
	longest := 1
	for _, l := range c.Labels {
		longest = max(longest, len([]rune(l)))
	}
	room := (p.x1 - p.x0) / float64(len(xs))
	need := float64(longest)*6.5 + 8
	every := max(1, int(math.Ceil(need/room)))
	for i, x := range xs {
		if i%every != 0 || i >= len(c.Labels) {
			continue
		}
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle" fill="#5d6b7e">%s</text>`, coord(x), coord(p.y1+16), xmlEsc(c.Labels[i]))
	}
}

// legend writes the series' names with their swatch (and line style) at
// the top; kind is "line", "area" or "bar".
func (c chartSpec) legend(b *strings.Builder, kind string) {
	x := float64(padLeft)
	for i, s := range c.Series {
		switch kind {
		case "line":
			fmt.Fprintf(b, `<line x1="%s" y1="14" x2="%s" y2="14" stroke="%s" stroke-width="2.5"%s/>`, coord(x), coord(x+24), seriesColour(i), dashOf(i))
			b.WriteString(markerOf(i, x+12, 14, seriesColour(i), "key", ""))
			x += 30
		default:
			fmt.Fprintf(b, `<rect x="%s" y="7" width="14" height="14" fill="%s" stroke="%s"/>`, coord(x), fillOf(c.ID, i), seriesColour(i))
			x += 20
		}
		fmt.Fprintf(b, `<text x="%s" y="18" fill="#18202b">%s</text>`, coord(x), xmlEsc(s.Name))
		x += float64(len([]rune(s.Name)))*6.8 + 18
	}
	if c.MarkName != "" {
		fmt.Fprintf(b, `<line x1="%s" y1="14" x2="%s" y2="14" stroke="#18202b" stroke-width="2" stroke-dasharray="5 3"/>`, coord(x), coord(x+24))
		fmt.Fprintf(b, `<text x="%s" y="18" fill="#18202b">%s</text>`, coord(x+30), xmlEsc(c.MarkName))
	}
}

// dashOf is series i's line style: solid, dashed, dotted, dash-dot.
func dashOf(i int) string {
	switch i % 4 {
	case 1:
		return ` stroke-dasharray="8 4"`
	case 2:
		return ` stroke-dasharray="2 3"`
	case 3:
		return ` stroke-dasharray="10 3 2 3"`
	}
	return ""
}

// markerOf is series i's point: a circle, square, triangle or diamond.
func markerOf(i int, x, y float64, col, class, title string) string {
	t := ""
	if title != "" {
		t = "<title>" + xmlEsc(title) + "</title>"
	}
	switch i % 4 {
	case 1:
		return fmt.Sprintf(`<rect class="%s" x="%s" y="%s" width="8" height="8" fill="%s" stroke="#fff">%s</rect>`, class, coord(x-4), coord(y-4), col, t)
	case 2:
		return fmt.Sprintf(`<path class="%s" d="M%s %sL%s %sL%s %sZ" fill="%s" stroke="#fff">%s</path>`,
			class, coord(x), coord(y-5), coord(x+5), coord(y+4), coord(x-5), coord(y+4), col, t)
	case 3:
		return fmt.Sprintf(`<path class="%s" d="M%s %sL%s %sL%s %sL%s %sZ" fill="%s" stroke="#fff">%s</path>`,
			class, coord(x), coord(y-5), coord(x+5), coord(y), coord(x), coord(y+5), coord(x-5), coord(y), col, t)
	}
	return fmt.Sprintf(`<circle class="%s" cx="%s" cy="%s" r="4" fill="%s" stroke="#fff">%s</circle>`, class, coord(x), coord(y), col, t)
}

// pointXs spreads n points over the plot's width.
func (p plotArea) pointXs(n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		if n == 1 {
			xs[i] = (p.x0 + p.x1) / 2
			continue
		}
		xs[i] = p.x0 + float64(i)*(p.x1-p.x0)/float64(n-1)
	}
	return xs
}

// lineSVG draws each series as a line through its values, broken where a
// value is missing: a gap says "no data" where a drop to zero would lie.
func lineSVG(c chartSpec) template.HTML {
	if !c.hasData() {
		return c.noData()
	}
	var b strings.Builder
	c.open(&b, chartW, chartH)
	top := 0.0
	for s := range c.Series {
		for i := range c.Labels {
			if v := c.value(s, i); v != nil {
				top = max(top, *v)
			}
		}
	}
	p := plotArea{x0: padLeft, y0: padTop, x1: chartW - padRight, y1: chartH - padBot, ax: newAxis(top, c.Unit)}
	// Points at the ends would sit on the axes: inset them a little.
	inset := p
	inset.x0, inset.x1 = p.x0+12, p.x1-12
	xs := inset.pointXs(len(c.Labels))
	c.frame(&b, p, chartW, chartH)
	c.xLabels(&b, p, xs)
	c.legend(&b, "line")
	for s, ser := range c.Series {
		var d strings.Builder
		run := false
		for i := range c.Labels {
			v := c.value(s, i)
			if v == nil {
				run = false
				continue
			}
			cmd := "L"
			if !run {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%s %s", cmd, coord(xs[i]), coord(p.y(*v)))
			run = true
		}
		if d.Len() > 0 {
			fmt.Fprintf(&b, `<path class="series" data-series="%s" d="%s" fill="none" stroke="%s" stroke-width="2.5"%s/>`,
				xmlEsc(ser.Name), d.String(), seriesColour(s), dashOf(s))
		}
		for i := range c.Labels {
			if v := c.value(s, i); v != nil {
				b.WriteString(markerOf(s, xs[i], p.y(*v), seriesColour(s), "point", ser.Name+", "+c.Labels[i]+": "+valueText(*v, c.Unit)))
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barSVG draws a bar per category: one series, several side by side, or
// several stacked. A missing value is written "no data" at its place.
func barSVG(c chartSpec) template.HTML {
	if !c.hasData() {
		return c.noData()
	}
	var b strings.Builder
	c.open(&b, chartW, chartH)
	top := 0.0
	for i := range c.Labels {
		sum := 0.0
		for s := range c.Series {
			if v := c.value(s, i); v != nil {
				if c.Stacked {
					sum += *v
				} else {
					top = max(top, *v)
				}
			}
		}
		top = max(top, sum)
		if i < len(c.Marks) && c.Marks[i] != nil {
			top = max(top, *c.Marks[i])
		}
	}
	p := plotArea{x0: padLeft, y0: padTop, x1: chartW - padRight, y1: chartH - padBot, ax: newAxis(top, c.Unit)}
	c.frame(&b, p, chartW, chartH)
	n := len(c.Labels)
	band := (p.x1 - p.x0) / float64(n)
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = p.x0 + band*(float64(i)+0.5)
	}
	c.xLabels(&b, p, xs)
	if len(c.Series) > 1 || c.MarkName != "" {
		c.legend(&b, "bar")
	}
	groups := len(c.Series)
	if c.Stacked {
		groups = 1
	}
	width := math.Min(band*0.7, 64)
	each := width / float64(groups)
	labelValues := n <= 16
	for i := range c.Labels {
		left := xs[i] - width/2
		base := 0.0
		missing := true
		for s, ser := range c.Series {
			v := c.value(s, i)
			if v == nil {
				continue
			}
			missing = false
			x := left
			lo := 0.0
			if c.Stacked {
				lo = base
				base += *v
			} else {
				x = left + each*float64(s)
			}
			y0, y1 := p.y(lo+*v), p.y(lo)
			fmt.Fprintf(&b, `<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="%s"><title>%s</title></rect>`,
				coord(x), coord(y0), coord(each), coord(math.Max(y1-y0, 0)), fillOf(c.ID, s), seriesColour(s),
				xmlEsc(ser.Name+", "+c.Labels[i]+": "+valueText(*v, c.Unit)))
			if labelValues && !c.Stacked && n*groups <= 30 {
				fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" fill="#18202b" font-size="11">%s</text>`, coord(x+each/2), coord(y0-4), xmlEsc(valueText(*v, c.Unit)))
			}
		}
		if missing {
			fmt.Fprintf(&b, `<text class="nodata" x="%s" y="%s" text-anchor="middle" fill="#5d6b7e">no data</text>`, coord(xs[i]), coord(p.y1-6))
		} else if c.Stacked && labelValues {
			fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" fill="#18202b">%s</text>`, coord(xs[i]), coord(p.y(base)-4), xmlEsc(valueText(base, c.Unit)))
		}
		if i < len(c.Marks) && c.Marks[i] != nil {
			y := p.y(*c.Marks[i])
			fmt.Fprintf(&b, `<line class="mark" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#18202b" stroke-width="2" stroke-dasharray="5 3"><title>%s</title></line>`,
				coord(left-6), coord(y), coord(left+width+6), coord(y), xmlEsc(c.MarkName+", "+c.Labels[i]+": "+valueText(*c.Marks[i], c.Unit)))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// hbarSVG draws stacked horizontal bars, one row per category: long
// names (rules, alert types) read better down the side than under the
// axis.
func hbarSVG(c chartSpec) template.HTML {
	if !c.hasData() {
		return c.noData()
	}
	const rowH, left, right = 24.0, 220.0, 70.0
	h := int(padTop + rowH*float64(len(c.Labels)) + padBot)
	var b strings.Builder
	c.open(&b, chartW, h)
	top := 0.0
	totals := make([]float64, len(c.Labels))
	for i := range c.Labels {
		for s := range c.Series {
			if v := c.value(s, i); v != nil {
				totals[i] += *v
			}
		}
		top = max(top, totals[i])
	}
	ax := newAxis(top, c.Unit)
	x0, x1 := left, float64(chartW)-right
	y0, y1 := float64(padTop), float64(h-padBot)
	xOf := func(v float64) float64 { return x0 + v/ax.max*(x1-x0) }
	for _, t := range ax.ticks {
		x := xOf(t)
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e3e7ee"/>`, coord(x), coord(y0), coord(x), coord(y1))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" fill="#5d6b7e">%s</text>`, coord(x), coord(y1+16), xmlEsc(ax.label(t)))
	}
	fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#5d6b7e"/>`, coord(x0), coord(y0), coord(x0), coord(y1))
	fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#5d6b7e"/>`, coord(x0), coord(y1), coord(x1), coord(y1))
	if c.XLabel != "" {
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle" fill="#18202b">%s</text>`, coord((x0+x1)/2), h-8, xmlEsc(c.XLabel))
	}
	c.legend(&b, "bar")
	for i, l := range c.Labels {
		y := y0 + rowH*float64(i)
		short := []rune(l)
		name := l
		if len(short) > 32 {
			name = string(short[:31]) + "…"
		}
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" fill="#18202b"><title>%s</title>%s</text>`, coord(x0-6), coord(y+rowH/2+4), xmlEsc(l), xmlEsc(name))
		at := 0.0
		for s, ser := range c.Series {
			v := c.value(s, i)
			if v == nil || *v == 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="%s"><title>%s</title></rect>`,
				coord(xOf(at)), coord(y+4), coord(xOf(at+*v)-xOf(at)), coord(rowH-8), fillOf(c.ID, s), seriesColour(s), xmlEsc(l+", "+ser.Name+": "+valueText(*v, c.Unit)))
			at += *v
		}
		if totals[i] == 0 {
			fmt.Fprintf(&b, `<text class="nodata" x="%s" y="%s" fill="#5d6b7e">none closed</text>`, coord(x0+4), coord(y+rowH/2+4))
		} else {
			fmt.Fprintf(&b, `<text x="%s" y="%s" fill="#18202b">%s</text>`, coord(xOf(at)+4), coord(y+rowH/2+4), xmlEsc(valueText(totals[i], c.Unit)))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// areaSVG draws the series stacked as areas over the categories, the
// first series at the bottom: the cumulative flow diagram. Each band is
// also named at its right end when it is tall enough to hold its name.
func areaSVG(c chartSpec) template.HTML {
	if !c.hasData() {
		return c.noData()
	}
	const labelRoom = 96.0
	var b strings.Builder
	c.open(&b, chartW, chartH)
	n := len(c.Labels)
	cum := make([][]float64, len(c.Series)+1) // cum[s][i]: the top of series s-1
	cum[0] = make([]float64, n)
	for s := range c.Series {
		cum[s+1] = make([]float64, n)
		for i := 0; i < n; i++ {
			v := 0.0
			if p := c.value(s, i); p != nil {
				v = *p
			}
			cum[s+1][i] = cum[s][i] + v
		}
	}
	top := 0.0
	for _, v := range cum[len(c.Series)] {
		top = max(top, v)
	}
	p := plotArea{x0: padLeft, y0: padTop, x1: chartW - padRight - labelRoom, y1: chartH - padBot, ax: newAxis(top, c.Unit)}
	xs := p.pointXs(n)
	if n == 1 {
		// One instant is a column, not a point.
		xs = []float64{p.x0, p.x1}
		for s := range cum {
			cum[s] = []float64{cum[s][0], cum[s][0]}
		}
	}
	c.frame(&b, p, chartW, chartH)
	c.xLabels(&b, p, xs[:min(len(xs), n)])
	c.legend(&b, "area")
	for s, ser := range c.Series {
		var d strings.Builder
		for i, x := range xs {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%s %s", cmd, coord(x), coord(p.y(cum[s+1][i])))
		}
		for i := len(xs) - 1; i >= 0; i-- {
			fmt.Fprintf(&d, "L%s %s", coord(xs[i]), coord(p.y(cum[s][i])))
		}
		d.WriteString("Z")
		last := len(xs) - 1
		fmt.Fprintf(&b, `<path class="band" data-series="%s" d="%s" fill="%s" stroke="%s" stroke-width="1"><title>%s</title></path>`,
			xmlEsc(ser.Name), d.String(), fillOf(c.ID, s), seriesColour(s), xmlEsc(fmt.Sprintf("%s: %s at the end", ser.Name, valueText(cum[s+1][last]-cum[s][last], c.Unit))))
		if lo, hi := p.y(cum[s][last]), p.y(cum[s+1][last]); lo-hi >= 12 {
			fmt.Fprintf(&b, `<text x="%s" y="%s" fill="#18202b">%s</text>`, coord(p.x1+6), coord((lo+hi)/2+4), xmlEsc(ser.Name))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// summarize writes what a chart shows for a screen reader: for each
// series its highest and lowest figure and where, and how many
// categories have no data.
func (c chartSpec) summarize() string {
	var parts []string
	what := c.Noun
	if what == "" {
		what = "categories"
	}
	for s, ser := range c.Series {
		hi, lo, missing := -1, -1, 0
		for i := range c.Labels {
			v := c.value(s, i)
			if v == nil {
				missing++
				continue
			}
			if hi < 0 || *v > *c.value(s, hi) {
				hi = i
			}
			if lo < 0 || *v < *c.value(s, lo) {
				lo = i
			}
		}
		if hi < 0 {
			parts = append(parts, ser.Name+": no data")
			continue
		}
		p := fmt.Sprintf("%s: highest %s (%s), lowest %s (%s)", ser.Name, valueText(*c.value(s, hi), c.Unit), c.Labels[hi],
			valueText(*c.value(s, lo), c.Unit), c.Labels[lo])
		if missing > 0 {
			p += fmt.Sprintf(", no data for %d of %d %s", missing, len(c.Labels), what)
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf("%s, %d %s. %s.", c.Title, len(c.Labels), what, strings.Join(parts, "; "))
}
