package intel

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// genIndicators returns n indicators in a realistic mix: 40% IPv4, 5%
// CIDR (/24s), 25% domains, 15% URLs and 15% SHA-256, from three feeds
// with tags drawn from a small vocabulary.
func genIndicators(n int, r *rand.Rand) []Indicator {
	feeds := [][]string{{"otx"}, {"misp"}, {"taxii"}, {"otx", "misp"}}
	tags := [][]string{nil, {"c2"}, {"malware", "phishing"}, {"botnet"}, {"apt28", "c2"}}
	out := make([]Indicator, n)
	first := t0.Add(-90 * 24 * time.Hour)
	for i := range out {
		ind := &out[i]
		ind.Feeds, ind.Tags = feeds[r.IntN(len(feeds))], tags[r.IntN(len(tags))]
		ind.Confidence = r.IntN(101)
		ind.FirstSeen = first.Add(time.Duration(r.IntN(80*24)) * time.Hour)
		ind.LastSeen = ind.FirstSeen.Add(time.Duration(r.IntN(240)) * time.Hour)
		if r.IntN(2) == 0 {
			ind.ValidUntil = t0.Add(time.Duration(1+r.IntN(720)) * time.Hour)
		}
		switch p := r.IntN(100); {
		case p < 40:
			ind.Type, ind.Value = IP, randIPv4(r)
		case p < 45:
			ind.Type, ind.Value = CIDR, fmt.Sprintf("%d.%d.%d.0/24", 1+r.IntN(223), r.IntN(256), r.IntN(256))
		case p < 70:
			ind.Type, ind.Value = Domain, randDomain(r)
		case p < 85:
			ind.Type, ind.Value = URL, "http://"+randDomain(r)+"/"+randWord(r, 6)+"/"+randWord(r, 8)+".php"
		default:
			ind.Type, ind.Value = SHA256, randHash(r)
		}
	}
	return out
}

func randIPv4(r *rand.Rand) string {
	return strconv.Itoa(1+r.IntN(223)) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(r.IntN(256))
}

var tlds = []string{"com", "net", "org", "ru", "info", "xyz", "top", "io"}

func randDomain(r *rand.Rand) string {
	return randWord(r, 6+r.IntN(8)) + "." + tlds[r.IntN(len(tlds))]
}

func randWord(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[r.IntN(36)]
	}
	return string(b)
}

func randHash(r *rand.Rand) string {
	var b [32]byte
	for i := 0; i < 32; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:])
}

type entity struct{ typ, value string }

// genEntities returns n normalised entities of mixed types, 10% of them
// known indicators (or under one: a subdomain, a URL on a bad host).
func genEntities(n int, inds []Indicator, r *rand.Rand) []entity {
	out := make([]entity, n)
	for i := range out {
		if r.IntN(10) == 0 {
			ind := inds[r.IntN(len(inds))]
			switch ind.Type {
			case CIDR:
				out[i] = entity{IP, ind.Value[:len(ind.Value)-4] + "7"}
			case Domain:
				out[i] = entity{Domain, "www." + ind.Value}
			default:
				out[i] = entity{ind.Type, ind.Value}
			}
			continue
		}
		switch p := r.IntN(100); {
		case p < 40:
			out[i] = entity{IP, randIPv4(r)}
		case p < 65:
			out[i] = entity{Domain, "cdn." + randDomain(r)}
		case p < 80:
			out[i] = entity{URL, "https://" + randDomain(r) + "/" + randWord(r, 10)}
		case p < 95:
			out[i] = entity{SHA256, randHash(r)}
		default:
			out[i] = entity{Email, randWord(r, 8) + "@" + randDomain(r)}
		}
	}
	return out
}

func heapMB() float64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// loadMillion loads a million indicators and returns the matcher, n
// entities to look up (see genEntities) and the heap the matcher alone
// holds after Load, in MB: the input slice is dropped before measuring, and
// the entities are made first so that they count in the baseline.
func loadMillion(n int) (*Matcher, []entity, float64) {
	inds := genIndicators(1_000_000, rand.New(rand.NewPCG(1, 2)))
	ents := genEntities(n, inds, rand.New(rand.NewPCG(3, 4)))
	inds = nil
	before := heapMB()
	inds = genIndicators(1_000_000, rand.New(rand.NewPCG(1, 2))) // the same again
	m := NewMatcher()
	m.Load(inds, t0)
	inds = nil
	mb := heapMB() - before
	runtime.KeepAlive(inds)
	return m, ents, mb
}

// BenchmarkLookup1M measures Lookup (typ given, values already normalised,
// so Normalize runs and takes its fast paths) and LookupNormalized over a
// million indicators, 90% misses. It reports lookups/s and the matcher's
// heap after Load.
func BenchmarkLookup1M(b *testing.B) {
	m, ents, mb := loadMillion(1 << 16)
	hits := 0
	for _, e := range ents {
		if len(m.Lookup(e.typ, e.value, t0)) > 0 {
			hits++
		}
	}
	b.Logf("indicators %d, heap %.1f MB, hit rate %.1f%%", m.Len(), mb, 100*float64(hits)/float64(len(ents)))
	for _, bb := range []struct {
		name string
		fn   func(typ, v string, now time.Time) []Match
	}{{"Lookup", m.Lookup}, {"LookupNormalized", m.LookupNormalized}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			cpu0 := cpuTime()
			for b.Loop() {
				e := &ents[i&(len(ents)-1)]
				bb.fn(e.typ, e.value, t0)
				i++
			}
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
			// On a shared machine wall time counts other processes too; the
			// process CPU time (GC included) is the cost of the lookups.
			if cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "lookups/cpu-s")
			}
			b.ReportMetric(mb, "heapMB")
		})
	}
}

func BenchmarkLoad1M(b *testing.B) {
	inds := genIndicators(1_000_000, rand.New(rand.NewPCG(1, 2)))
	m := NewMatcher()
	b.ReportAllocs()
	for b.Loop() {
		m.Load(inds, t0)
	}
	b.ReportMetric(float64(m.Len()), "indicators")
}

// BenchmarkAdd1k measures an incremental feed page of 1,000 indicators
// merged into a million (the copy-on-write cost).
func BenchmarkAdd1k(b *testing.B) {
	m, _, _ := loadMillion(0)
	page := genIndicators(1000, rand.New(rand.NewPCG(5, 6)))
	for b.Loop() {
		m.Add(page, t0)
	}
}
