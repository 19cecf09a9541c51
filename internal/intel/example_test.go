package intel_test

import (
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/intel"
)

func ExampleMatcher_Lookup() {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	m := intel.NewMatcher()
	m.Load([]intel.Indicator{
		{Type: intel.Domain, Value: "Evil.COM.", Feeds: []string{"otx"}, Confidence: 80},
		{Type: intel.CIDR, Value: "203.0.113.0/24", Feeds: []string{"misp"}, Confidence: 60},
	}, now)
	for _, e := range []struct{ typ, value string }{
		{intel.URL, "HTTPS://cdn.evil.com:443/payload"},
		{intel.IP, "203.0.113.7"},
		{"", "good.example"},
	} {
		for _, mt := range m.Lookup(e.typ, e.value, now) {
			fmt.Println(mt.Matched, "→", mt.Indicator.Type, mt.Indicator.Value, mt.Via, mt.Indicator.Feeds, mt.Indicator.Confidence)
		}
	}
	// Output:
	// https://cdn.evil.com/payload → domain evil.com url-host [otx] 80
	// 203.0.113.7 → cidr 203.0.113.0/24 cidr [misp] 60
}
