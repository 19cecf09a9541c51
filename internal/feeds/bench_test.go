package feeds

import (
	"bufio"
	"os"
	"sync"
	"testing"
)

var (
	bundleOnce sync.Once
	bundlePath string
	bundleErr  error
)

// TestMain removes the benchmark's generated bundle.
func TestMain(m *testing.M) {
	code := m.Run()
	if bundlePath != "" {
		_ = os.Remove(bundlePath)
	}
	os.Exit(code)
}

const benchObjects = 1_000_000

// BenchmarkParseSTIX1M parses a 1,000,000-object bundle (900,000 usable
// indicators, 100,000 unsupported patterns) from a temporary file
// generated once per process.
func BenchmarkParseSTIX1M(b *testing.B) {
	bundleOnce.Do(func() {
		f, err := os.CreateTemp("", "vigil-stix-1m-*.json")
		if err != nil {
			bundleErr = err
			return
		}
		bundlePath = f.Name()
		if err := writeBundle(f, benchObjects); err != nil {
			bundleErr = err
		}
		if err := f.Close(); err != nil && bundleErr == nil {
			bundleErr = err
		}
	})
	if bundleErr != nil {
		b.Fatal(bundleErr)
	}
	fi, err := os.Stat(bundlePath)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(bundlePath)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		skipped, err := ParseSTIX(bufio.NewReaderSize(f, 256<<10), func(Indicator) { n++ })
		f.Close()
		if err != nil || n+skipped != benchObjects {
			b.Fatalf("emitted %d skipped %d err %v", n, skipped, err)
		}
	}
	b.ReportMetric(float64(benchObjects)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}
