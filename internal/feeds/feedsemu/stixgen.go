package feedsemu

import (
	"bufio"
	"fmt"
	"os"
)

// WriteSTIXBundle writes a STIX 2.1 bundle of n indicator objects to
// path, for benchmarks: IPv4 addresses (firstOctet.x.y.z), domains and
// SHA-256 hashes, a third each, all distinct.
func WriteSTIXBundle(path string, n, firstOctet int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	w.WriteString(`{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[`)
	for i := range n {
		if i > 0 {
			w.WriteByte(',')
		}
		var pattern string
		switch i % 3 {
		case 0:
			pattern = fmt.Sprintf("[ipv4-addr:value = '%d.%d.%d.%d']", firstOctet, i>>16&255, i>>8&255, i&255)
		case 1:
			pattern = fmt.Sprintf("[domain-name:value = 'c2-%d.example.org']", i)
		default:
			pattern = fmt.Sprintf("[file:hashes.'SHA-256' = '%064x']", i)
		}
		fmt.Fprintf(w, `{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-000000000000","created":"2026-12-01T00:00:00Z","modified":"2026-12-01T00:00:00Z","pattern":%q,"pattern_type":"stix","valid_from":"2026-12-01T00:00:00Z","confidence":70}`, i, pattern)
	}
	w.WriteString("]}")
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
