package hunt

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestQueriesShape(t *testing.T) {
	inds := []Indicator{
		{Type: "ip", Value: "203.0.113.7", Feed: "otx"},
		{Type: "ip", Value: "203.0.113.7", Feed: "misp"}, // duplicate
		{Type: "domain", Value: "Evil.Example.com.", Feed: "otx"},
		{Type: "url", Value: "https://malware.example.net:8443/x?y=1", Feed: "otx"},
		{Type: "url", Value: "http://198.51.100.23/gate", Feed: "otx"},
		{Type: "sha256", Value: "ab", Feed: "otx"}, // not hunted here
		{Type: "domain", Value: "  ", Feed: "otx"}, // empty
	}
	qs := Queries(inds, 24*time.Hour, DefaultLimits())
	if len(qs) != 2 {
		t.Fatalf("%d queries", len(qs))
	}
	want := []string{
		"DeviceNetworkEvents\n| where TimeGenerated > ago(86400s)\n" +
			`| where RemoteIP in ("198.51.100.23", "203.0.113.7") or RemoteUrl has_any ("evil.example.com", "malware.example.net")` + "\n" +
			"| project TimeGenerated, DeviceId, DeviceName, LocalIP, RemoteIP, RemoteUrl, RemotePort, InitiatingProcessFileName\n| take 10000",
		"CommonSecurityLog\n| where TimeGenerated > ago(86400s)\n" +
			`| where DestinationIP in ("198.51.100.23", "203.0.113.7") or DestinationHostName has_any ("evil.example.com", "malware.example.net") or RequestURL has_any ("evil.example.com", "malware.example.net")` + "\n" +
			"| project TimeGenerated, Computer, SourceIP, DestinationIP, DestinationHostName, RequestURL, DestinationPort, DeviceProduct\n| take 10000",
	}
	for i, q := range qs {
		if q.KQL != want[i] || q.Values != 4 {
			t.Errorf("query %d (%d values):\n%s\nwant\n%s", i, q.Values, q.KQL, want[i])
		}
	}
	if qs := Queries(nil, time.Hour, Limits{}); len(qs) != 0 {
		t.Fatalf("no indicators: %v", qs)
	}
}

func TestQueriesBatchWithinLimits(t *testing.T) {
	var inds []Indicator
	for i := range 5000 {
		inds = append(inds, Indicator{Type: "ip", Value: fmt.Sprintf("10.%d.%d.%d", i/65536, (i/256)%256, i%256)})
		inds = append(inds, Indicator{Type: "domain", Value: fmt.Sprintf("host-%d.bad-%d.example.com", i, i%97)})
	}
	inds = append(inds, Indicator{Type: "domain", Value: strings.Repeat("a", 70000) + ".example"}) // too long for any query
	tests := []Limits{
		DefaultLimits(),
		{MaxQueryBytes: 4096, MaxValuesPerQuery: 1000},
		{MaxQueryBytes: 1 << 20, MaxValuesPerQuery: 300, MaxRows: 50},
		{MaxQueryBytes: 700, MaxValuesPerQuery: 10000},
	}
	for _, lim := range tests {
		qs := Queries(inds, 7*24*time.Hour, lim)
		per := map[string]int{}
		for _, q := range qs {
			if len(q.KQL) > lim.MaxQueryBytes {
				t.Fatalf("%+v: query of %d bytes", lim, len(q.KQL))
			}
			if q.Values > lim.MaxValuesPerQuery || q.Values == 0 {
				t.Fatalf("%+v: %d values", lim, q.Values)
			}
			if want := strings.Count(q.KQL, `"`) / 2; q.Table == TableDeviceNetworkEvents && want != q.Values {
				t.Fatalf("%+v: %d literals for %d values", lim, want, q.Values)
			}
			per[q.Table] += q.Values
		}
		want := 10000
		if lim.MaxQueryBytes > 80000 {
			want++ // the long value fits only in a large budget
		}
		if per[TableDeviceNetworkEvents] != want || per[TableCommonSecurityLog] != want {
			t.Fatalf("%+v: values per table %v, want %d each", lim, per, want)
		}
		if len(qs) < 4 {
			t.Fatalf("%+v: %d queries", lim, len(qs))
		}
	}
}

// The sizer predicts the rendered length exactly.
func TestSizer(t *testing.T) {
	vals := []value{{ip: true, text: "1.2.3.4"}, {text: `a"b\c`}, {ip: true, text: "5.6.7.8"}, {text: "x.example"}}
	for _, table := range []string{TableDeviceNetworkEvents, TableCommonSecurityLog} {
		sz := newSizer(table, 60, 10)
		for i, v := range vals {
			lit := len(Quote(v.text))
			pred := sz.with(v.ip, lit)
			sz.add(v.ip, lit)
			if got := len(render(table, vals[:i+1], 60, 10)); got != pred {
				t.Fatalf("%s after %d values: predicted %d, rendered %d", table, i+1, pred, got)
			}
		}
	}
}

func TestQuote(t *testing.T) {
	tests := map[string]string{
		"evil.example.com": `"evil.example.com"`,
		`a"b`:              `"a\"b"`,
		`a\b`:              `"a\\b"`,
		`\"`:               `"\\\""`,
		"a\nb\tc\rd":       `"a\nb\tc\rd"`,
		"a\x00b\x1bc\x7f":  `"abc"`,
		"bad\xffutf8":      `"badutf8"`,
		"bücher.example":   `"bücher.example"`,
	}
	for in, want := range tests {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// readLiteral reads a KQL double-quoted literal at the start of s, as
// Kusto does, and returns its value and length; ok is false when s does
// not start with a complete literal.
func readLiteral(s string) (val string, n int, ok bool) {
	if s == "" || s[0] != '"' {
		return "", 0, false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), i + 1, true
		case '\n':
			return "", 0, false // a raw newline ends nothing: invalid
		case '\\':
			if i+1 >= len(s) {
				return "", 0, false
			}
			i++
			switch e := s[i]; e {
			case '\\', '"', '\'':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				return "", 0, false
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, false
}

// skeleton replaces every string literal of a query with "?" and returns
// the literals' values.
func skeleton(t *testing.T, q string) (string, []string) {
	t.Helper()
	var sk strings.Builder
	var lits []string
	for i := 0; i < len(q); {
		if q[i] != '"' {
			sk.WriteByte(q[i])
			i++
			continue
		}
		v, n, ok := readLiteral(q[i:])
		if !ok {
			t.Fatalf("broken literal at %d in %q", i, q)
		}
		lits = append(lits, v)
		sk.WriteString(`"?"`)
		i += n
	}
	return sk.String(), lits
}

func sanitized(s string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "") {
		if (r < 0x20 && r != '\n' && r != '\t' && r != '\r') || r == 0x7f {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// FuzzQuoting: whatever an indicator's value, it stays inside its
// literal: the query's structure is that of a benign value, and the
// literal reads back as the (sanitised) value.
func FuzzQuoting(f *testing.F) {
	for _, s := range []string{"evil.example.com", `a"b`, `a\`, `\") or 1==1 //`, "x\ny", `"`, `\\\"`, "ü\xff", "') | take 1 | where ('"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		lit, n, ok := readLiteral(Quote(v))
		if !ok || n != len(Quote(v)) || lit != sanitized(v) {
			t.Fatalf("Quote(%q) = %s reads back as %q (%d of %d bytes, ok %v)", v, Quote(v), lit, n, len(Quote(v)), ok)
		}
		if !utf8.ValidString(Quote(v)) {
			t.Fatalf("Quote(%q) is not valid UTF-8", v)
		}
		benign := Queries([]Indicator{{Type: "domain", Value: "x"}}, time.Hour, DefaultLimits())
		got := Queries([]Indicator{{Type: "domain", Value: v}}, time.Hour, DefaultLimits())
		if len(got) == 0 {
			return // dropped: empty after trimming
		}
		for i := range got {
			skB, _ := skeleton(t, benign[i].KQL)
			skG, lits := skeleton(t, got[i].KQL)
			if skB != skG {
				t.Fatalf("value %q changed the query:\n%s", v, got[i].KQL)
			}
			for _, l := range lits {
				if strings.Contains(l, "\x00") {
					t.Fatalf("NUL in literal for %q", v)
				}
			}
		}
	})
}
