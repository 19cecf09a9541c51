package hunt

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkQueries100k: the queries of a hunt for 100,000 indicators
// (half IPs, a quarter domains, a quarter URLs) within the default
// limits. Reports the queries it makes.
func BenchmarkQueries100k(b *testing.B) {
	inds := make([]Indicator, 0, 100000)
	for i := range 100000 {
		switch i % 4 {
		case 0, 1:
			inds = append(inds, Indicator{Type: TypeIP, Value: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)})
		case 2:
			inds = append(inds, Indicator{Type: TypeDomain, Value: fmt.Sprintf("host-%d.example.com", i)})
		default:
			inds = append(inds, Indicator{Type: TypeURL, Value: fmt.Sprintf("http://dl-%d.example.net/p/%d.exe", i, i)})
		}
	}
	var n int
	b.ReportAllocs()
	for b.Loop() {
		n = len(Queries(inds, time.Hour, DefaultLimits()))
	}
	b.ReportMetric(float64(n), "queries")
}
