// Package hunt builds the KQL a scheduled hunt sends to the Sentinel
// workspace through the Log Analytics query API, and turns the answers
// into hits. It does no I/O.
//
// What it hunts: current indicators of type ip, domain and url against
// network telemetry, in two tables:
//   - DeviceNetworkEvents: RemoteIP in (ips), RemoteUrl has_any (terms);
//   - CommonSecurityLog: DestinationIP in (ips), DestinationHostName
//     has_any (terms), RequestURL has_any (terms);
//
// where terms are the domains and the hosts of the URL indicators (a URL
// whose host is an IP address adds that IP instead). has_any matches whole
// terms, so it is a coarse filter: "example.com" also finds
// "evil.example.com" and "example.com.attacker.net". The caller must check
// each hit exactly with the intel matcher (internal/intel), which also
// tells which indicator and feed it was; Hits does not.
//
// Decisions where the sources are silent:
//   - Values are deduplicated (IPs as given, terms lower-cased) and batched
//     in a stable order, so that the same indicators give the same
//     queries. A value that cannot fit in one query on its own (longer
//     than the query budget) is dropped, and so is an empty one.
//   - Each query is bounded twice: by Limits.MaxQueryBytes, measured on
//     the rendered text, and by Limits.MaxValuesPerQuery values. Microsoft
//     documents no limit on the query text; the default is vigil's own,
//     as is the per-query value count.
//   - Each query projects only the columns Hits reads and takes at most
//     Limits.MaxRows rows (default 10,000, well within the query API's
//     500,000-row limit); a query that returns MaxRows rows may have been
//     cut, and the caller should shorten the lookback or the batch.
//   - Values are quoted as KQL double-quoted string literals (Quote):
//     backslashes and quotes are escaped, newlines, tabs and carriage
//     returns become \n, \t and \r, other control characters and invalid
//     UTF-8 are dropped, so that no value can end its literal.
package hunt

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Indicator types hunted (the values of internal/intel's IP, Domain and
// URL constants).
const (
	TypeIP     = "ip"
	TypeDomain = "domain"
	TypeURL    = "url"
)

// Tables hunted.
const (
	TableDeviceNetworkEvents = "DeviceNetworkEvents"
	TableCommonSecurityLog   = "CommonSecurityLog"
)

// Indicator is a current indicator to hunt for.
type Indicator struct {
	Type, Value, Feed string
	Confidence        int
}

// Limits bound each query.
type Limits struct {
	MaxQueryBytes     int
	MaxValuesPerQuery int
	// MaxRows is the take bound of each query (default DefaultMaxRows).
	MaxRows int
}

// Defaults.
const (
	// DefaultMaxQueryBytes is vigil's bound on a query's text (64 KiB):
	// Microsoft documents none.
	DefaultMaxQueryBytes = 64 << 10
	// DefaultMaxValuesPerQuery is how many indicator values one query
	// carries at most, vigil's choice to keep each query cheap.
	DefaultMaxValuesPerQuery = 1000
	// DefaultMaxRows bounds each query's result.
	DefaultMaxRows = 10000
)

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{MaxQueryBytes: DefaultMaxQueryBytes, MaxValuesPerQuery: DefaultMaxValuesPerQuery, MaxRows: DefaultMaxRows}
}

// Query is one query of a hunt.
type Query struct {
	Table  string
	KQL    string
	Values int // indicator values it carries
}

// Columns each table's queries project, which Hits reads.
var (
	networkColumns = []string{"TimeGenerated", "DeviceId", "DeviceName", "LocalIP", "RemoteIP", "RemoteUrl", "RemotePort", "InitiatingProcessFileName"}
	seclogColumns  = []string{"TimeGenerated", "Computer", "SourceIP", "DestinationIP", "DestinationHostName", "RequestURL", "DestinationPort", "DeviceProduct"}
)

// value is one literal of a batch: an IP or a term.
type value struct {
	ip   bool
	text string
}

// Queries builds the hunt's queries over the last lookback (at least one
// second): for each table, as many as the limits require.
func Queries(inds []Indicator, lookback time.Duration, lim Limits) []Query {
	if lim.MaxQueryBytes <= 0 {
		lim.MaxQueryBytes = DefaultMaxQueryBytes
	}
	if lim.MaxValuesPerQuery <= 0 {
		lim.MaxValuesPerQuery = DefaultMaxValuesPerQuery
	}
	if lim.MaxRows <= 0 {
		lim.MaxRows = DefaultMaxRows
	}
	secs := max(int64(lookback/time.Second), 1)
	vals := collect(inds)
	var out []Query
	for _, table := range []string{TableDeviceNetworkEvents, TableCommonSecurityLog} {
		out = append(out, batch(table, vals, secs, lim)...)
	}
	return out
}

// collect splits indicators into deduplicated IPs and terms, in a stable
// order.
func collect(inds []Indicator) []value {
	seen := map[value]bool{}
	var vals []value
	add := func(v value) {
		if v.text == "" || seen[v] {
			return
		}
		seen[v] = true
		vals = append(vals, v)
	}
	for _, ind := range inds {
		v := strings.TrimSpace(ind.Value)
		switch strings.ToLower(ind.Type) {
		case TypeIP:
			add(value{ip: true, text: v})
		case TypeDomain:
			add(value{text: strings.TrimSuffix(strings.ToLower(v), ".")})
		case TypeURL:
			host := urlHost(v)
			if net.ParseIP(host) != nil {
				add(value{ip: true, text: host})
			} else {
				add(value{text: host})
			}
		}
	}
	slices.SortStableFunc(vals, func(a, b value) int {
		if a.ip != b.ip {
			if a.ip {
				return -1
			}
			return 1
		}
		return strings.Compare(a.text, b.text)
	})
	return vals
}

// urlHost is the lower-cased host of a URL indicator, with or without a
// scheme.
func urlHost(v string) string {
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

// batch cuts vals into queries for table. Sizes are counted without
// rendering each candidate: a sizer knows the rendered length of a query
// from its fixed text, its clauses and its literals (size_test checks it
// against render).
func batch(table string, vals []value, secs int64, lim Limits) []Query {
	var out []Query
	var cur []value
	sz := newSizer(table, secs, lim.MaxRows)
	flush := func() {
		if len(cur) > 0 {
			out = append(out, Query{Table: table, KQL: render(table, cur, secs, lim.MaxRows), Values: len(cur)})
			cur = nil
			sz.reset()
		}
	}
	for _, v := range vals {
		lit := len(Quote(v.text))
		if sz.alone(v.ip, lit) > lim.MaxQueryBytes {
			continue // cannot fit even alone
		}
		if len(cur) >= lim.MaxValuesPerQuery || sz.with(v.ip, lit) > lim.MaxQueryBytes {
			flush()
		}
		cur = append(cur, v)
		sz.add(v.ip, lit)
	}
	flush()
	return out
}

// sizer tracks the rendered length of a query being filled.
type sizer struct {
	fixed            int // the query without predicates
	ipPrefix         int // "RemoteIP in (" and the like
	termPrefixes     []int
	nIP, ipBytes     int
	nTerm, termBytes int
}

func newSizer(table string, secs int64, take int) *sizer {
	s := &sizer{fixed: len(render(table, nil, secs, take))}
	switch table {
	case TableDeviceNetworkEvents:
		s.ipPrefix, s.termPrefixes = len("RemoteIP in ("), []int{len("RemoteUrl has_any (")}
	case TableCommonSecurityLog:
		s.ipPrefix, s.termPrefixes = len("DestinationIP in ("), []int{len("DestinationHostName has_any ("), len("RequestURL has_any (")}
	}
	return s
}

func (s *sizer) reset() { s.nIP, s.ipBytes, s.nTerm, s.termBytes = 0, 0, 0, 0 }

// size is the rendered length with the given literals.
func (s *sizer) size(nIP, ipBytes, nTerm, termBytes int) int {
	n, clauses := s.fixed, 0
	if nIP > 0 {
		n += s.ipPrefix + ipBytes + 2*(nIP-1) + 1
		clauses++
	}
	if nTerm > 0 {
		for _, p := range s.termPrefixes {
			n += p + termBytes + 2*(nTerm-1) + 1
			clauses++
		}
	}
	if clauses > 1 {
		n += len(" or ") * (clauses - 1)
	}
	return n
}

func (s *sizer) with(ip bool, lit int) int {
	if ip {
		return s.size(s.nIP+1, s.ipBytes+lit, s.nTerm, s.termBytes)
	}
	return s.size(s.nIP, s.ipBytes, s.nTerm+1, s.termBytes+lit)
}

func (s *sizer) alone(ip bool, lit int) int {
	if ip {
		return s.size(1, lit, 0, 0)
	}
	return s.size(0, 0, 1, lit)
}

func (s *sizer) add(ip bool, lit int) {
	if ip {
		s.nIP, s.ipBytes = s.nIP+1, s.ipBytes+lit
	} else {
		s.nTerm, s.termBytes = s.nTerm+1, s.termBytes+lit
	}
}

// render writes one query.
func render(table string, vals []value, secs int64, take int) string {
	var ips, terms []string
	for _, v := range vals {
		if v.ip {
			ips = append(ips, Quote(v.text))
		} else {
			terms = append(terms, Quote(v.text))
		}
	}
	var preds []string
	var cols []string
	switch table {
	case TableDeviceNetworkEvents:
		if len(ips) > 0 {
			preds = append(preds, "RemoteIP in ("+strings.Join(ips, ", ")+")")
		}
		if len(terms) > 0 {
			preds = append(preds, "RemoteUrl has_any ("+strings.Join(terms, ", ")+")")
		}
		cols = networkColumns
	case TableCommonSecurityLog:
		if len(ips) > 0 {
			preds = append(preds, "DestinationIP in ("+strings.Join(ips, ", ")+")")
		}
		if len(terms) > 0 {
			t := strings.Join(terms, ", ")
			preds = append(preds, "DestinationHostName has_any ("+t+")", "RequestURL has_any ("+t+")")
		}
		cols = seclogColumns
	}
	return fmt.Sprintf("%s\n| where TimeGenerated > ago(%ds)\n| where %s\n| project %s\n| take %d",
		table, secs, strings.Join(preds, " or "), strings.Join(cols, ", "), take)
}

// Quote returns s as a KQL double-quoted string literal. Backslashes and
// double quotes are escaped; newlines, tabs and carriage returns become
// their escapes, and other control characters and invalid UTF-8 are
// dropped: an indicator never contains them, and they have no safe
// spelling in every KQL client.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "") {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
