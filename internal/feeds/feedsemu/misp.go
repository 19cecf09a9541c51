package feedsemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
)

// MISPTag is a tag as MISP attaches it to an attribute.
type MISPTag struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Colour     string `json:"colour"`
	Exportable bool   `json:"exportable"`
	HideTag    bool   `json:"hide_tag"`
	UserID     string `json:"user_id"`
}

// MISPEventRef is the short Event MISP embeds in a restSearch attribute.
type MISPEventRef struct {
	ID           string `json:"id"`
	Info         string `json:"info"`
	OrgID        string `json:"org_id"`
	OrgcID       string `json:"orgc_id"`
	UUID         string `json:"uuid"`
	Distribution string `json:"distribution"`
}

// MISPAttribute is an attribute as MISP serialises it (the fields of
// event_full_existing.json's Attribute[] and openapi AttributeNoId).
type MISPAttribute struct {
	ID                 string        `json:"id"`
	EventID            string        `json:"event_id"`
	ObjectID           string        `json:"object_id"`
	ObjectRelation     *string       `json:"object_relation"`
	Category           string        `json:"category"`
	Type               string        `json:"type"`
	Value              string        `json:"value"`
	ToIDS              bool          `json:"to_ids"`
	UUID               string        `json:"uuid"`
	Timestamp          string        `json:"timestamp"`
	Distribution       string        `json:"distribution"`
	SharingGroupID     string        `json:"sharing_group_id"`
	Comment            string        `json:"comment"`
	Deleted            bool          `json:"deleted"`
	DisableCorrelation bool          `json:"disable_correlation"`
	FirstSeen          *string       `json:"first_seen"`
	LastSeen           *string       `json:"last_seen"`
	Event              *MISPEventRef `json:"Event,omitempty"`
	Tag                []MISPTag     `json:"Tag,omitempty"`
}

type mispStored struct {
	id    int64
	ts    int64
	toIDS bool
	raw   json.RawMessage
}

// MISPServer emulates MISP's POST /attributes/restSearch.
type MISPServer struct {
	base
	APIKey string

	dmu    sync.Mutex
	attrs  []mispStored
	nextID int64
	types  map[string]bool
}

// NewMISPServer returns an emulator accepting apiKey.
func NewMISPServer(apiKey string) (*MISPServer, error) {
	raw, err := Fixtures.ReadFile("fixtures/misp/restsearch_contract.json")
	if err != nil {
		return nil, err
	}
	var c struct {
		AttributeType struct {
			Enum []string `json:"enum"`
		} `json:"AttributeType"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("misp restsearch_contract.json: %w", err)
	}
	s := &MISPServer{APIKey: apiKey, types: map[string]bool{}, nextID: 1000}
	for _, t := range c.AttributeType.Enum {
		s.types[t] = true
	}
	return s, nil
}

// Start serves the emulator and returns its base URL.
func (s *MISPServer) Start() (string, error) { return s.start(http.HandlerFunc(s.serve)) }

// Handler is the emulator as an http.Handler (Fail and Corrupt included),
// to mount in another server instead of calling Start.
func (s *MISPServer) Handler() http.Handler { return s.wrap(http.HandlerFunc(s.serve)) }

// AddAttribute stores an attribute; an empty ID is assigned. The type must
// be in the openapi AttributeType enum and the timestamp a Unix time.
func (s *MISPServer) AddAttribute(a MISPAttribute) error {
	if !s.types[a.Type] {
		return fmt.Errorf("misp emulator: unknown attribute type %q", a.Type)
	}
	ts, err := strconv.ParseInt(a.Timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("misp emulator: timestamp %q is not a Unix time", a.Timestamp)
	}
	s.dmu.Lock()
	if a.ID == "" {
		s.nextID++
		a.ID = strconv.FormatInt(s.nextID, 10)
	}
	s.dmu.Unlock()
	id, err := strconv.ParseInt(a.ID, 10, 64)
	if err != nil {
		return fmt.Errorf("misp emulator: id %q is not a number", a.ID)
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	s.AddRaw(id, ts, a.ToIDS, raw)
	return nil
}

// AddEvent stores the attributes of a MISP event (the inner Event object,
// as in event_full_existing.json), each with its Event reference.
func (s *MISPServer) AddEvent(eventJSON []byte) (int, error) {
	var ev struct {
		ID           string          `json:"id"`
		Info         string          `json:"info"`
		OrgID        string          `json:"org_id"`
		OrgcID       string          `json:"orgc_id"`
		UUID         string          `json:"uuid"`
		Distribution string          `json:"distribution"`
		Attribute    []MISPAttribute `json:"Attribute"`
	}
	if err := json.Unmarshal(eventJSON, &ev); err != nil {
		return 0, fmt.Errorf("misp emulator: event: %w", err)
	}
	ref := &MISPEventRef{ID: ev.ID, Info: ev.Info, OrgID: ev.OrgID, OrgcID: ev.OrgcID, UUID: ev.UUID, Distribution: ev.Distribution}
	for i, a := range ev.Attribute {
		a.Event = ref
		if err := s.AddAttribute(a); err != nil {
			return i, err
		}
	}
	return len(ev.Attribute), nil
}

// AddRaw stores an attribute body as is (to serve malformed entries).
func (s *MISPServer) AddRaw(id, timestamp int64, toIDS bool, raw json.RawMessage) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	for i, a := range s.attrs {
		if a.id == id {
			s.attrs[i] = mispStored{id, timestamp, toIDS, raw}
			return
		}
	}
	s.attrs = append(s.attrs, mispStored{id, timestamp, toIDS, raw})
}

type mispError struct {
	Name    string `json:"name"`
	Message string `json:"message"`
	URL     string `json:"url"`
}

func (s *MISPServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/attributes/restSearch" {
		s.error(w, r, http.StatusNotFound, "Not Found")
		return
	}
	if r.Method != http.MethodPost {
		s.error(w, r, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if s.APIKey == "" || r.Header.Get("Authorization") != s.APIKey {
		const msg = "Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header."
		s.error(w, r, http.StatusForbidden, msg)
		return
	}
	var f struct {
		ReturnFormat string          `json:"returnFormat"`
		ToIDS        *bool           `json:"to_ids"`
		Timestamp    json.RawMessage `json:"timestamp"`
		Page         *int            `json:"page"`
		Limit        *int            `json:"limit"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&f); err != nil {
		s.error(w, r, http.StatusBadRequest, "Invalid JSON: "+err.Error())
		return
	}
	if f.ReturnFormat != "" && f.ReturnFormat != "json" {
		s.error(w, r, http.StatusBadRequest, "the emulator only answers returnFormat json")
		return
	}
	var since int64
	if len(f.Timestamp) > 0 {
		var n json.Number
		if err := json.Unmarshal(f.Timestamp, &n); err != nil {
			var str string
			if err := json.Unmarshal(f.Timestamp, &str); err != nil {
				s.error(w, r, http.StatusBadRequest, "bad timestamp")
				return
			}
			n = json.Number(str)
		}
		v, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			s.error(w, r, http.StatusBadRequest, "bad timestamp")
			return
		}
		since = v
	}
	s.dmu.Lock()
	var match []mispStored
	for _, a := range s.attrs {
		if a.ts >= since && (f.ToIDS == nil || !*f.ToIDS || a.toIDS) {
			match = append(match, a)
		}
	}
	s.dmu.Unlock()
	sort.SliceStable(match, func(i, j int) bool {
		if match[i].ts != match[j].ts {
			return match[i].ts < match[j].ts
		}
		return match[i].id < match[j].id
	})
	total := len(match)
	if f.Limit != nil && *f.Limit > 0 {
		page := 1
		if f.Page != nil && *f.Page > 0 {
			page = *f.Page
		}
		from := min((page-1)**f.Limit, len(match))
		match = match[from:min(from+*f.Limit, len(match))]
	}
	list := make([]json.RawMessage, 0, len(match))
	for _, a := range match {
		list = append(list, a.raw)
	}
	body, _ := json.Marshal(map[string]any{"response": map[string]any{"Attribute": list}})
	w.Header().Set("X-Result-Count", strconv.Itoa(total))
	w.Header().Set("X-Response-Format", "json")
	writeJSON(w, http.StatusOK, "application/json", body)
}

func (s *MISPServer) error(w http.ResponseWriter, r *http.Request, status int, msg string) {
	body, _ := json.Marshal(mispError{Name: msg, Message: msg, URL: r.URL.Path})
	writeJSON(w, status, "application/json", body)
}
