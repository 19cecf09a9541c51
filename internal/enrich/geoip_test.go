package enrich

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

type geoNet struct {
	cidr    string
	country string
	city    string
	asn     uint32
	org     string
}

// writeDBs builds GeoLite2-City- and GeoLite2-ASN-shaped databases.
func writeDBs(t testing.TB, dir string, nets []geoNet) (city, asn string) {
	t.Helper()
	opts := func(typ string) mmdbwriter.Options {
		return mmdbwriter.Options{DatabaseType: typ, RecordSize: 28, IncludeReservedNetworks: true}
	}
	ct, err := mmdbwriter.New(opts("GeoLite2-City"))
	if err != nil {
		t.Fatal(err)
	}
	at, err := mmdbwriter.New(opts("GeoLite2-ASN"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		_, ipn, err := net.ParseCIDR(n.cidr)
		if err != nil {
			t.Fatal(err)
		}
		if n.country != "" {
			rec := mmdbtype.Map{
				"country":  mmdbtype.Map{"iso_code": mmdbtype.String(n.country), "names": mmdbtype.Map{"en": mmdbtype.String(n.country + "-land")}},
				"location": mmdbtype.Map{"latitude": mmdbtype.Float64(52.37), "longitude": mmdbtype.Float64(4.89)},
			}
			if n.city != "" {
				rec["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(n.city)}}
			}
			if err := ct.Insert(ipn, rec); err != nil {
				t.Fatal(err)
			}
		}
		if n.asn != 0 {
			if err := at.Insert(ipn, mmdbtype.Map{
				"autonomous_system_number":       mmdbtype.Uint32(n.asn),
				"autonomous_system_organization": mmdbtype.String(n.org),
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write := func(tree *mmdbwriter.Tree, name string) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tree.WriteTo(f); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write(ct, "city.mmdb"), write(at, "asn.mmdb")
}

var testNets = []geoNet{
	{"203.0.113.0/24", "NL", "Amsterdam", 64500, "Example Hosting BV"},
	{"198.51.100.0/24", "US", "", 0, ""},
	{"192.0.2.0/24", "", "", 64501, "Only ASN Inc"},
	{"2001:db8::/32", "DE", "Berlin", 64502, "Example IPv6 GmbH"},
}

func TestGeoIP(t *testing.T) {
	city, asn := writeDBs(t, t.TempDir(), testNets)
	g, err := NewGeoIP(GeoIPConfig{CityDB: city, ASNDB: asn, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	tests := []struct {
		ip      string
		want    map[string]string
		summary string
	}{
		{"203.0.113.7", map[string]string{"Country": "NL", "City": "Amsterdam", "ASN": "AS64500", "Organization": "Example Hosting BV"}, "GeoIP: 203.0.113.7 is in Amsterdam, NL, AS64500 Example Hosting BV"},
		{"198.51.100.1", map[string]string{"Country": "US"}, "GeoIP: 198.51.100.1 is in US"},
		{"192.0.2.1", map[string]string{"ASN": "AS64501", "Organization": "Only ASN Inc"}, "GeoIP: 192.0.2.1, AS64501 Only ASN Inc"},
		{"2001:db8::7", map[string]string{"Country": "DE", "City": "Berlin", "ASN": "AS64502", "Organization": "Example IPv6 GmbH"}, ""},
		{"::ffff:203.0.113.9", map[string]string{"Country": "NL", "City": "Amsterdam", "ASN": "AS64500", "Organization": "Example Hosting BV"}, ""},
		{"10.1.2.3", map[string]string{"Location": "not found"}, "GeoIP: 10.1.2.3 is in no database"},
	}
	for _, tc := range tests {
		rep, err := g.Enrich(context.Background(), Request{"ip", tc.ip})
		if err != nil {
			t.Fatalf("%s: %v", tc.ip, err)
		}
		got := map[string]string{}
		for _, tx := range rep.Taxonomies {
			if tx.Level != LevelInfo || tx.Namespace != "GeoIP" {
				t.Errorf("%s: %+v", tc.ip, tx)
			}
			got[tx.Predicate] = tx.Value
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.ip, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s=%q, want %q", tc.ip, k, got[k], v)
			}
		}
		if tc.summary != "" && rep.Summary != tc.summary {
			t.Errorf("%s: summary %q", tc.ip, rep.Summary)
		}
	}
	if _, err := g.Enrich(context.Background(), Request{"ip", "nope"}); err == nil {
		t.Error("bad ip accepted")
	}
}

func TestGeoIPReload(t *testing.T) {
	dir := t.TempDir()
	city, asn := writeDBs(t, dir, testNets[:1])
	g, err := NewGeoIP(GeoIPConfig{CityDB: city, ASNDB: asn})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	full, _, _ := g.Lookup(netip.MustParseAddr("203.0.113.7"))
	if full.CountryCode != "NL" {
		t.Fatalf("%+v", full)
	}
	// Replace the files by rename, as an updater does, then reload.
	next := t.TempDir()
	c2, a2 := writeDBs(t, next, []geoNet{{"203.0.113.0/24", "BE", "Brussels", 64999, "Moved"}})
	if err := os.Rename(c2, city); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(a2, asn); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	full, _, _ = g.Lookup(netip.MustParseAddr("203.0.113.7"))
	if full.CountryCode != "BE" || full.ASN != 64999 {
		t.Errorf("after reload: %+v", full)
	}
	// A broken file keeps the old databases in use. (Renamed into place:
	// truncating a mapped file in place would corrupt the mapping, which is
	// why updaters rename.)
	bad := filepath.Join(next, "bad.mmdb")
	if err := os.WriteFile(bad, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bad, city); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(); err == nil {
		t.Error("garbage reloaded")
	}
	if full, _, _ = g.Lookup(netip.MustParseAddr("203.0.113.7")); full.CountryCode != "BE" {
		t.Errorf("after failed reload: %+v", full)
	}
	if _, err := NewGeoIP(GeoIPConfig{}); err == nil {
		t.Error("no databases accepted")
	}
}

func BenchmarkGeoIP(b *testing.B) {
	var nets []geoNet
	for i := range 256 {
		nets = append(nets, geoNet{cidr: netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(i), 1, 0, 0}), 16).String(), country: "NL", city: "Amsterdam", asn: uint32(64500 + i), org: "Example"})
	}
	city, asn := writeDBs(b, b.TempDir(), nets)
	g, err := NewGeoIP(GeoIPConfig{CityDB: city, ASNDB: asn})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		ip := netip.AddrFrom4([4]byte{byte(i), 1, byte(i >> 8), 7}).String()
		if _, err := g.Enrich(ctx, Request{"ip", ip}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}
