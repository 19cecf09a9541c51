package store_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/report"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// BenchmarkOnCallLoadYear is on-call load over a year of 100,000 pages and
// their notifications alone: the part of BenchmarkReports1M to profile.
func BenchmarkOnCallLoadYear(b *testing.B) {
	now := time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	db := storetest.SQLite(b, clk)
	_, pages, notes := benchHistory(1_000_000, now)
	if err := db.SeedPagesForTest(context.Background(), pages, notes); err != nil {
		b.Fatal(err)
	}
	svc := report.New(db, benchRota(b), workitem.DefaultProcess(), report.Options{Clock: clk, TimeZone: "Europe/Helsinki"})
	b.ResetTimer()
	for range b.N {
		if _, err := svc.Run(context.Background(), report.NameOnCall, url.Values{"days": {"365"}}); err != nil {
			b.Fatal(err)
		}
	}
}
