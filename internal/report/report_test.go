package report

import (
	"math"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	for _, c := range []struct {
		vals    []float64
		p, want float64
	}{
		{[]float64{5}, 0.5, 5},
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{300, 3600, 14400, 18000}, 0.9, 16920},
		{[]float64{10, 20, 30, 40, 50}, 0.9, 46},
		{[]float64{10, 20, 30, 40, 50}, 1, 50},
	} {
		d := &Dist{}
		for _, v := range c.vals {
			d.Add(v)
		}
		if got, _ := d.Percentile(c.p); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("p%g of %v = %g, want %g", c.p*100, c.vals, got, c.want)
		}
	}
	if _, ok := (&Dist{}).Percentile(0.5); ok {
		t.Error("an empty distribution has a median")
	}
	if _, ok := (&Dist{}).Mean(); ok {
		t.Error("an empty distribution has a mean")
	}
}

// A histogram read back from a roll-up keeps its percentiles within 2%.
func TestHistogramPercentiles(t *testing.T) {
	exact := &Dist{}
	for i := 1; i <= 5000; i++ {
		exact.Add(math.Exp(float64(i%97)/8) * 30)
	}
	h := decodeDist(exact.encode())
	if h.N != exact.N || math.Abs(h.Sum-exact.Sum) > 1 {
		t.Fatalf("round trip: n %d sum %g, want %d %g", h.N, h.Sum, exact.N, exact.Sum)
	}
	for _, p := range []float64{0.1, 0.5, 0.9, 0.99} {
		want, _ := exact.Percentile(p)
		got, _ := h.Percentile(p)
		if math.Abs(got-want) > 0.02*want {
			t.Errorf("p%g: histogram %g, exact %g", p*100, got, want)
		}
	}
}

func TestPeriodDST(t *testing.T) {
	now := time.Date(2027, 11, 2, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		q     url.Values
		hours []float64 // each bucket's length
		first string
	}{
		{"spring forward in Helsinki", url.Values{"tz": {"Europe/Helsinki"}, "from": {"2027-03-27"}, "to": {"2027-03-29"}}, []float64{24, 23, 24}, "2027-03-27"},
		{"fall back in Helsinki", url.Values{"tz": {"Europe/Helsinki"}, "from": {"2027-10-30"}, "to": {"2027-11-01"}}, []float64{24, 25, 24}, "2027-10-30"},
		{"New York, weeks from Monday", url.Values{"tz": {"America/New_York"}, "from": {"2027-03-08"}, "to": {"2027-03-21"}, "bucket": {"week"}}, []float64{167, 168}, "2027-W10"},
		{"UTC months", url.Values{"tz": {"UTC"}, "from": {"2027-01-15"}, "to": {"2027-03-31"}, "bucket": {"month"}}, []float64{17 * 24, 28 * 24, 31 * 24}, "2027-01"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePeriod(c.q, now, "")
			if err != nil {
				t.Fatal(err)
			}
			b := p.Bounds()
			if len(b) != len(c.hours)+1 {
				t.Fatalf("%d buckets, want %d", len(b)-1, len(c.hours))
			}
			for i, h := range c.hours {
				if got := b[i+1].Sub(b[i]).Hours(); got != h {
					t.Errorf("bucket %d is %g h, want %g", i, got, h)
				}
			}
			if got := p.Label(b[0]); got != c.first {
				t.Errorf("first label %q, want %q", got, c.first)
			}
		})
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		q     url.Values
		field string
	}{
		{url.Values{"tz": {"Mars/Olympus"}}, "tz"},
		{url.Values{"from": {"yesterday"}}, "from"},
		{url.Values{"to": {"2027-13-01"}}, "to"},
		{url.Values{"from": {"2027-02-01"}, "to": {"2027-01-01"}}, "to"},
		{url.Values{"days": {"0"}}, "days"},
		{url.Values{"days": {"30abc"}}, "days"},
		{url.Values{"bucket": {"hour"}}, "bucket"},
	} {
		if _, err := ParsePeriod(c.q, now, ""); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%v: %v, want an error naming %s", c.q, err, c.field)
		}
	}
	if _, err := ParseFilter(url.Values{"severity": {"urgent"}}); err == nil || !strings.Contains(err.Error(), "severity") {
		t.Errorf("bad severity: %v", err)
	}
}

func TestComputeFacts(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2027, 1, 1, 0, m, 0, 0, time.UTC) }
	terminal := func(s string) bool { return s == "Closed" || s == "Removed" }
	for _, c := range []struct {
		name     string
		h        History
		tta, ttr float64 // seconds; -1 for none
		class    string
		acted    bool
		spans    int
	}{
		{"untouched", History{State: "New", Created: at(0)}, -1, -1, "", false, 1},
		{"a rule closes it", History{State: "Removed", Created: at(0), Closed: ptrT(at(5)),
			Entries: []Entry{{At: at(5), Actor: "rule:noise", Kind: "transition", From: "New", To: "Removed", Reason: "False positive"}}}, -1, 300, FalsePositive, false, 2},
		{"a comment is acting, not acknowledging", History{State: "Closed", Created: at(0), Closed: ptrT(at(30)),
			Entries: []Entry{{At: at(10), Actor: "ana@example.com", Kind: "comment"},
				{At: at(20), Actor: "ana@example.com", Kind: "transition", From: "New", To: "Approved"},
				{At: at(30), Actor: "ana@example.com", Kind: "transition", From: "Approved", To: "Closed"}}}, 1200, 1800, TruePositive, true, 3},
		{"the page is acknowledged first", History{State: "New", Created: at(0),
			Pages:   []Page{{Service: "sec", Created: at(0), AckAt: ptrT(at(3)), AckBy: "ben@example.com"}},
			Entries: []Entry{{At: at(9), Actor: "ben@example.com", Kind: "update"}}}, 180, -1, "", true, 1},
		{"an API token is not a person", History{State: "Approved", Created: at(0),
			Entries: []Entry{{At: at(4), Actor: "token:ci", Kind: "transition", From: "New", To: "Approved"}}}, -1, -1, "", false, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := Compute(c.h, terminal)
			if d, ok := f.TTA(); (c.tta < 0) == ok || (ok && d.Seconds() != c.tta) {
				t.Errorf("TTA %v %v, want %g", d, ok, c.tta)
			}
			if d, ok := f.TTR(); (c.ttr < 0) == ok || (ok && d.Seconds() != c.ttr) {
				t.Errorf("TTR %v %v, want %g", d, ok, c.ttr)
			}
			if f.Class != c.class || f.Acted != c.acted || len(f.Spans) != c.spans {
				t.Errorf("class %q acted %v spans %d, want %q %v %d", f.Class, f.Acted, len(f.Spans), c.class, c.acted, c.spans)
			}
			back, err := DecodeSpans(EncodeSpans(f.Spans))
			if err != nil || len(back) != len(f.Spans) {
				t.Fatalf("spans round trip: %v %v", back, err)
			}
			for i := range back {
				if back[i].State != f.Spans[i].State || !back[i].From.Equal(f.Spans[i].From) || (back[i].To == nil) != (f.Spans[i].To == nil) {
					t.Errorf("span %d: %+v, want %+v", i, back[i], f.Spans[i])
				}
			}
		})
	}
}

func ptrT(t time.Time) *time.Time { return &t }

func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"tz=Europe/Helsinki&from=2027-03-27&to=2027-03-29", "days=365&bucket=week", "tz=Local", "from=2027-02-30", "bucket=month&days=3660"} {
		f.Add(s)
	}
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := ParsePeriod(q, now, "UTC")
		if err != nil {
			return
		}
		b := p.Bounds()
		if len(b) < 2 || !b[0].Equal(p.From) || !b[len(b)-1].Equal(p.To) {
			t.Fatalf("bounds %v for %s – %s", b, p.From, p.To)
		}
		if len(b) > 4000 {
			t.Fatalf("%d buckets", len(b))
		}
		for i := 1; i < len(b); i++ {
			if !b[i].After(b[i-1]) {
				t.Fatalf("bounds not increasing: %v", b)
			}
		}
		if _, err := ParseFilter(q); err != nil && !strings.Contains(err.Error(), "") {
			t.Fatal(err)
		}
	})
}

func FuzzDecodeSpans(f *testing.F) {
	f.Add("New 1 2|Active 2 -")
	f.Add("In review 5 9")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		spans, err := DecodeSpans(v)
		if err != nil {
			return
		}
		again, err := DecodeSpans(EncodeSpans(spans))
		if err != nil || len(again) != len(spans) {
			t.Fatalf("re-encoded spans do not read back: %v", err)
		}
	})
}

// A roll-up row reads back as it was written, names with spaces and
// separators included, and only the histograms asked for.
func TestAggRoundTrip(t *testing.T) {
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	end := at.Add(90 * time.Second)
	a := newAgg()
	slos := []SLO{{Name: "high ack, 15 m=fast", Metric: MetricAck, Target: time.Minute}}
	for i := range 3 {
		ack := at.Add(time.Duration(i+1) * 30 * time.Second)
		closed := at.Add(time.Hour)
		a.add(Fact{Created: at, AckAt: &ack, ClosedAt: &closed, ClosedBy: "ana@example.com", Class: TruePositive, Acted: true,
			Spans: []Span{{State: "In review", From: at, To: &end}}}, slos, at.Add(2*time.Hour))
	}
	b := decodeAgg(a.encode(), needAll)
	if b.Items != 3 || b.Closed != 3 || b.Acted != 3 || b.Classes[TruePositive] != 3 || b.TTA.N != 3 || b.TTR.N != 3 || b.Handle.N != 3 {
		t.Fatalf("read back %+v", b)
	}
	if c := b.SLOs["high ack, 15 m=fast"]; c == nil || c.Met != 2 || c.Missed != 1 {
		t.Errorf("SLO counts %+v", b.SLOs)
	}
	if d := b.States["In review"]; d == nil || d.N != 3 {
		t.Errorf("states %+v", b.States)
	}
	if m, _ := b.TTA.Mean(); m != 60 {
		t.Errorf("mean TTA %g, want 60", m)
	}
	if c := decodeAgg(a.encode(), needTTR); c.TTA.N != 0 || len(c.States) != 0 || c.TTR.N != 3 {
		t.Errorf("decoded what was not asked for: %+v", c)
	}
}

func TestIsPerson(t *testing.T) {
	tests := []struct {
		actor string
		want  bool
	}{
		{"ana@example.com", true},
		{"rule:quiet lab@v3", false},
		{"token:ci@example.com", false},
		{"key:alertmanager", false},
		{"sentinel:ana@example.com", false},
		{"sentinel", false},
		{"graph-poller", false},
		{"vigil", false},
		{"paging", false},
		{"threat-intel", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsPerson(tt.actor); got != tt.want {
			t.Errorf("IsPerson(%q) = %v, want %v", tt.actor, got, tt.want)
		}
	}
}
