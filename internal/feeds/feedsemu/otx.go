package feedsemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OTXTimeLayout is how OTX writes timestamps: no zone, microseconds.
const OTXTimeLayout = "2006-01-02T15:04:05.000000"

// OTXPulse is a pulse as /pulses/subscribed serialises it.
type OTXPulse struct {
	ID                string         `json:"id"`
	Name              string         `json:"name"`
	Description       string         `json:"description"`
	AuthorName        string         `json:"author_name"`
	Created           time.Time      `json:"-"`
	Modified          time.Time      `json:"-"`
	Tags              []string       `json:"tags"`
	TLP               string         `json:"tlp"`
	Public            int            `json:"public"`
	Revision          int            `json:"revision"`
	Adversary         string         `json:"adversary"`
	References        []string       `json:"references"`
	TargetedCountries []string       `json:"targeted_countries"`
	MalwareFamilies   []string       `json:"malware_families"`
	AttackIDs         []string       `json:"attack_ids"`
	Industries        []string       `json:"industries"`
	MoreIndicators    bool           `json:"more_indicators"`
	Indicators        []OTXIndicator `json:"indicators"`
}

// OTXIndicator is one indicator of a pulse.
type OTXIndicator struct {
	ID          int64      `json:"id"`
	Indicator   string     `json:"indicator"`
	Type        string     `json:"type"`
	Created     time.Time  `json:"-"`
	Expiration  *time.Time `json:"-"`
	IsActive    int        `json:"is_active"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Content     string     `json:"content"`
	Role        *string    `json:"role"`
}

// MarshalJSON writes OTX's timestamps.
func (p OTXPulse) MarshalJSON() ([]byte, error) {
	type plain OTXPulse
	return json.Marshal(struct {
		plain
		Created  string `json:"created"`
		Modified string `json:"modified"`
	}{plain(p), p.Created.UTC().Format(OTXTimeLayout), p.Modified.UTC().Format(OTXTimeLayout)})
}

// MarshalJSON writes OTX's timestamps; a nil expiration is null.
func (i OTXIndicator) MarshalJSON() ([]byte, error) {
	type plain OTXIndicator
	var exp *string
	if i.Expiration != nil {
		s := i.Expiration.UTC().Format("2006-01-02T15:04:05")
		exp = &s
	}
	return json.Marshal(struct {
		plain
		Created    string  `json:"created"`
		Expiration *string `json:"expiration"`
	}{plain(i), i.Created.UTC().Format("2006-01-02T15:04:05"), exp})
}

type otxStored struct {
	id       string
	modified time.Time
	raw      json.RawMessage
}

// OTXServer emulates AlienVault OTX's subscribed-pulses endpoint.
type OTXServer struct {
	base
	APIKey string

	dmu    sync.Mutex
	pulses []otxStored
	types  map[string]bool
}

// NewOTXServer returns an emulator accepting apiKey.
func NewOTXServer(apiKey string) (*OTXServer, error) {
	raw, err := Fixtures.ReadFile("fixtures/otx/indicator_types.json")
	if err != nil {
		return nil, err
	}
	var list []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("otx indicator_types.json: %w", err)
	}
	s := &OTXServer{APIKey: apiKey, types: map[string]bool{}}
	for _, t := range list {
		s.types[strings.ToLower(t.Name)] = true
	}
	return s, nil
}

// IndicatorTypes lists the OTX indicator types the emulator accepts
// (fixtures/otx/indicator_types.json), lower-cased.
func (s *OTXServer) IndicatorTypes() []string {
	out := make([]string, 0, len(s.types))
	for t := range s.types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Start serves the emulator and returns its base URL.
func (s *OTXServer) Start() (string, error) { return s.start(http.HandlerFunc(s.serve)) }

// Handler is the emulator as an http.Handler (Fail and Corrupt included),
// to mount in another server instead of calling Start.
func (s *OTXServer) Handler() http.Handler { return s.wrap(http.HandlerFunc(s.serve)) }

// AddPulse stores (or replaces, by id) a pulse. Indicator types must be
// OTX types.
func (s *OTXServer) AddPulse(p OTXPulse) error {
	if p.ID == "" || p.Modified.IsZero() {
		return fmt.Errorf("otx emulator: pulse needs id and modified")
	}
	for _, ind := range p.Indicators {
		if !s.types[strings.ToLower(ind.Type)] {
			return fmt.Errorf("otx emulator: unknown indicator type %q", ind.Type)
		}
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	s.AddRawPulse(p.ID, p.Modified, raw)
	return nil
}

// AddRawPulse stores a pulse body as is (to serve malformed entries).
func (s *OTXServer) AddRawPulse(id string, modified time.Time, raw json.RawMessage) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	for i, p := range s.pulses {
		if p.id == id && id != "" {
			s.pulses[i] = otxStored{id, modified, raw}
			return
		}
	}
	s.pulses = append(s.pulses, otxStored{id, modified, raw})
}

func (s *OTXServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/pulses/subscribed" {
		writeJSON(w, http.StatusNotFound, "application/json", []byte(`{"detail": "Not found."}`))
		return
	}
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, "application/json", []byte(`{"detail": "Method not allowed."}`))
		return
	}
	if s.APIKey == "" || r.Header.Get("X-OTX-API-KEY") != s.APIKey {
		writeJSON(w, http.StatusForbidden, "application/json", []byte(`{"detail": "Authentication required"}`))
		return
	}
	q := r.URL.Query()
	var since time.Time
	if v := q.Get("modified_since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			if t, err = time.Parse("2006-01-02T15:04:05.999999", v); err != nil {
				writeJSON(w, http.StatusBadRequest, "application/json", []byte(`{"detail": "bad modified_since"}`))
				return
			}
		}
		since = t
	}
	limit, page := intParam(q, "limit", 50), intParam(q, "page", 1)
	if limit < 1 || page < 1 {
		writeJSON(w, http.StatusBadRequest, "application/json", []byte(`{"detail": "bad limit or page"}`))
		return
	}
	s.dmu.Lock()
	var match []otxStored
	for _, p := range s.pulses {
		if since.IsZero() || p.modified.After(since) {
			match = append(match, p)
		}
	}
	s.dmu.Unlock()
	sort.SliceStable(match, func(i, j int) bool { return match[i].modified.After(match[j].modified) })
	from := min((page-1)*limit, len(match))
	to := min(from+limit, len(match))
	results := make([]json.RawMessage, 0, to-from)
	for _, p := range match[from:to] {
		results = append(results, p.raw)
	}
	link := func(pg int) *string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		qq := u.Query()
		qq.Set("page", strconv.Itoa(pg))
		u.RawQuery = qq.Encode()
		s := u.String()
		return &s
	}
	env := struct {
		Results  []json.RawMessage `json:"results"`
		Count    int               `json:"count"`
		Next     *string           `json:"next"`
		Previous *string           `json:"previous"`
	}{Results: results, Count: len(match)}
	if to < len(match) {
		env.Next = link(page + 1)
	}
	if page > 1 {
		env.Previous = link(page - 1)
	}
	body, _ := json.Marshal(env)
	writeJSON(w, http.StatusOK, "application/json", body)
}

func intParam(q url.Values, name string, def int) int {
	v := q.Get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}
