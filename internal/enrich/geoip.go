package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/vigil-soc/vigil/internal/validation"
)

// GeoIPConfig names the user's MaxMind-format databases: a City (or
// Country) database and an ASN database, GeoLite2/GeoIP2-shaped. Either may
// be empty, not both.
type GeoIPConfig struct {
	CityDB, ASNDB string
	Now           func() time.Time
}

// GeoIP answers country, city, ASN and organisation from .mmdb files, as
// info taxonomies: where an address is says nothing about whether it is
// hostile.
type GeoIP struct {
	cfg GeoIPConfig
	now func() time.Time

	mu   sync.RWMutex // guards the readers: Reload unmaps the old files
	city *maxminddb.Reader
	asn  *maxminddb.Reader
}

// geoCity is the subset of a GeoLite2-City record read here.
type geoCity struct {
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Country struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"country"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// geoASN is a GeoLite2-ASN record.
type geoASN struct {
	Number       uint   `maxminddb:"autonomous_system_number"`
	Organization string `maxminddb:"autonomous_system_organization"`
}

// GeoFull is the full report of the GeoIP provider.
type GeoFull struct {
	IP           string   `json:"ip"`
	CountryCode  string   `json:"country_code,omitempty"`
	Country      string   `json:"country,omitempty"`
	City         string   `json:"city,omitempty"`
	Latitude     *float64 `json:"latitude,omitempty"`
	Longitude    *float64 `json:"longitude,omitempty"`
	Network      string   `json:"network,omitempty"`
	ASN          uint     `json:"asn,omitempty"`
	Organization string   `json:"organization,omitempty"`
}

// NewGeoIP opens the databases.
func NewGeoIP(cfg GeoIPConfig) (*GeoIP, error) {
	if strings.TrimSpace(cfg.CityDB) == "" && strings.TrimSpace(cfg.ASNDB) == "" {
		return nil, validation.NewFieldError("cityDB", "a city or an ASN database is required")
	}
	g := &GeoIP{cfg: cfg, now: nowFunc(cfg.Now)}
	if err := g.Reload(); err != nil {
		return nil, err
	}
	return g, nil
}

func openDB(field, path string) (*maxminddb.Reader, error) {
	if path == "" {
		return nil, nil
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("GeoIP: opening %s %s: %w", field, path, err)
	}
	return r, nil
}

// Reload reopens both files, for when the user has dropped in updated
// databases. On failure the databases in use stay in use. Updaters must
// replace a file by renaming a new one over it (as geoipupdate does): the
// open file is memory-mapped, and rewriting it in place corrupts lookups.
func (g *GeoIP) Reload() error {
	city, err := openDB("cityDB", g.cfg.CityDB)
	if err != nil {
		return err
	}
	asn, err := openDB("asnDB", g.cfg.ASNDB)
	if err != nil {
		if city != nil {
			_ = city.Close()
		}
		return err
	}
	g.mu.Lock()
	oldCity, oldASN := g.city, g.asn
	g.city, g.asn = city, asn
	g.mu.Unlock()
	return errors.Join(closeDB(oldCity), closeDB(oldASN))
}

func closeDB(r *maxminddb.Reader) error {
	if r == nil {
		return nil
	}
	return r.Close()
}

// Close releases the databases.
func (g *GeoIP) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	err := errors.Join(closeDB(g.city), closeDB(g.asn))
	g.city, g.asn = nil, nil
	return err
}

// Name implements Provider.
func (g *GeoIP) Name() string { return "GeoIP" }

// Supports implements Provider.
func (g *GeoIP) Supports(dataType string) bool { return dataType == "ip" }

// Lookup answers the full record for one address.
func (g *GeoIP) Lookup(ip netip.Addr) (GeoFull, bool, error) {
	ip = ip.Unmap()
	full := GeoFull{IP: ip.String()}
	found := false
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.city == nil && g.asn == nil {
		return full, false, errors.New("GeoIP: databases closed")
	}
	if g.city != nil {
		res := g.city.Lookup(ip)
		var c geoCity
		if err := res.Decode(&c); err != nil {
			return full, false, fmt.Errorf("GeoIP: city lookup of %s: %w", ip, err)
		}
		if res.Found() {
			found = true
			full.CountryCode = c.Country.ISOCode
			full.Country = c.Country.Names["en"]
			full.City = c.City.Names["en"]
			full.Latitude, full.Longitude = c.Location.Latitude, c.Location.Longitude
			full.Network = res.Prefix().String()
		}
	}
	if g.asn != nil {
		res := g.asn.Lookup(ip)
		var a geoASN
		if err := res.Decode(&a); err != nil {
			return full, false, fmt.Errorf("GeoIP: ASN lookup of %s: %w", ip, err)
		}
		if res.Found() {
			found = true
			full.ASN, full.Organization = a.Number, a.Organization
			if full.Network == "" {
				full.Network = res.Prefix().String()
			}
		}
	}
	return full, found, nil
}

// Enrich implements Provider.
func (g *GeoIP) Enrich(ctx context.Context, req Request) (Report, error) {
	if req.DataType != "ip" {
		return Report{}, validation.NewFieldError("dataType", "GeoIP does not support %q", req.DataType)
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(req.Data))
	if err != nil {
		return Report{}, validation.NewFieldError("data", "%q is not an IP address", req.Data)
	}
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	full, found, err := g.Lookup(ip)
	if err != nil {
		return Report{}, err
	}
	body, _ := json.Marshal(full)
	rep := Report{Provider: g.Name(), Request: req, Full: body, At: g.now()}
	if !found {
		rep.Taxonomies = []Taxonomy{{Level: LevelInfo, Namespace: "GeoIP", Predicate: "Location", Value: "not found"}}
		rep.Summary = fmt.Sprintf("GeoIP: %s is in no database", req.Data)
		return rep, nil
	}
	add := func(pred, val string) {
		if val != "" {
			rep.Taxonomies = append(rep.Taxonomies, Taxonomy{Level: LevelInfo, Namespace: "GeoIP", Predicate: pred, Value: val})
		}
	}
	add("Country", full.CountryCode)
	add("City", full.City)
	if full.ASN != 0 {
		add("ASN", "AS"+strconv.FormatUint(uint64(full.ASN), 10))
	}
	add("Organization", full.Organization)
	var parts []string
	if full.City != "" {
		parts = append(parts, full.City)
	}
	if full.CountryCode != "" {
		parts = append(parts, full.CountryCode)
	}
	s := fmt.Sprintf("GeoIP: %s", req.Data)
	if len(parts) > 0 {
		s += " is in " + strings.Join(parts, ", ")
	}
	if full.ASN != 0 {
		s += fmt.Sprintf(", AS%d", full.ASN)
		if full.Organization != "" {
			s += " " + full.Organization
		}
	}
	rep.Summary = s
	return rep, nil
}
