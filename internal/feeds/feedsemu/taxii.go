package feedsemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TAXIIMediaType is the TAXII 2.1 media type.
const TAXIIMediaType = "application/taxii+json;version=2.1"

// TAXIITimeLayout is how medallion writes date_added: microseconds, Z.
const TAXIITimeLayout = "2006-01-02T15:04:05.000000Z"

type taxiiObject struct {
	dateAdded time.Time
	raw       json.RawMessage
}

type taxiiCollection struct {
	info    map[string]json.RawMessage // id, title, description, can_read, can_write, media_types
	objects []taxiiObject              // ordered by dateAdded
}

type taxiiRoot struct {
	info        json.RawMessage
	status      []json.RawMessage
	collections []*taxiiCollection
}

// TAXIIServer emulates a TAXII 2.1 server.
type TAXIIServer struct {
	base
	Username, Password string
	MaxPageSize        int // the server's own cap on `limit`; default 100

	dmu       sync.Mutex
	discovery map[string]json.RawMessage
	roots     map[string]*taxiiRoot
	rootOrder []string
}

// NewTAXIIServer returns an emulator seeded with medallion's
// default_data.json: discovery, api roots api1, api2 and trustgroup1, their
// collections, objects (with date_added from the manifests) and statuses.
func NewTAXIIServer(username, password string) (*TAXIIServer, error) {
	raw, err := Fixtures.ReadFile("fixtures/taxii/medallion_default_data.json")
	if err != nil {
		return nil, err
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, fmt.Errorf("taxii default_data.json: %w", err)
	}
	s := &TAXIIServer{Username: username, Password: password, MaxPageSize: 100, roots: map[string]*taxiiRoot{}}
	if err := json.Unmarshal(data["/discovery"], &s.discovery); err != nil {
		return nil, fmt.Errorf("taxii discovery: %w", err)
	}
	var names []string
	for k := range data {
		if k != "/discovery" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		var r struct {
			Information json.RawMessage   `json:"information"`
			Status      []json.RawMessage `json:"status"`
			Collections []struct {
				Objects  []json.RawMessage `json:"objects"`
				Manifest []struct {
					ID        string `json:"id"`
					Version   string `json:"version"`
					DateAdded string `json:"date_added"`
				} `json:"manifest"`
			} `json:"collections"`
		}
		if err := json.Unmarshal(data[name], &r); err != nil {
			return nil, fmt.Errorf("taxii root %s: %w", name, err)
		}
		var infos struct {
			Collections []map[string]json.RawMessage `json:"collections"`
		}
		_ = json.Unmarshal(data[name], &infos)
		root := &taxiiRoot{info: r.Information, status: r.Status}
		for i, c := range r.Collections {
			info := infos.Collections[i]
			delete(info, "objects")
			delete(info, "manifest")
			col := &taxiiCollection{info: info}
			added := map[string]time.Time{}
			for _, m := range c.Manifest {
				t, err := time.Parse(time.RFC3339Nano, m.DateAdded)
				if err != nil {
					return nil, fmt.Errorf("taxii manifest %s: %w", m.ID, err)
				}
				added[m.ID+"|"+m.Version] = t
			}
			for _, o := range c.Objects {
				var hdr struct{ ID, Modified, Created string }
				_ = json.Unmarshal(o, &hdr)
				version := hdr.Modified
				if version == "" {
					version = hdr.Created
				}
				t, ok := added[hdr.ID+"|"+version]
				if !ok {
					// medallion falls back to the object's own version time
					t, _ = time.Parse(time.RFC3339Nano, version)
				}
				col.objects = append(col.objects, taxiiObject{t, o})
			}
			sort.SliceStable(col.objects, func(i, j int) bool { return col.objects[i].dateAdded.Before(col.objects[j].dateAdded) })
			root.collections = append(root.collections, col)
		}
		s.roots[name] = root
		s.rootOrder = append(s.rootOrder, name)
	}
	return s, nil
}

// Start serves the emulator and returns its base URL. The discovery
// resource's URLs are rewritten from http://localhost:5000 to it.
func (s *TAXIIServer) Start() (string, error) { return s.start(http.HandlerFunc(s.serve)) }

// Handler is the emulator as an http.Handler (Fail and Corrupt included),
// to mount in another server instead of calling Start.
func (s *TAXIIServer) Handler() http.Handler { return s.wrap(http.HandlerFunc(s.serve)) }

// AddCollection creates an empty readable collection in an api root.
func (s *TAXIIServer) AddCollection(root, id, title string) error {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	r, ok := s.roots[root]
	if !ok {
		return fmt.Errorf("taxii emulator: no api root %q", root)
	}
	info := map[string]json.RawMessage{}
	for k, v := range map[string]any{"id": id, "title": title, "can_read": true, "can_write": true, "media_types": []string{"application/stix+json;version=2.1"}} {
		info[k], _ = json.Marshal(v)
	}
	r.collections = append(r.collections, &taxiiCollection{info: info})
	return nil
}

// AddObjects adds STIX objects to a collection with the given date_added.
// Each must be a JSON object with "type" and "id".
func (s *TAXIIServer) AddObjects(root, collection string, dateAdded time.Time, objs ...json.RawMessage) error {
	for i, o := range objs {
		var hdr struct{ Type, ID string }
		if err := json.Unmarshal(o, &hdr); err != nil || hdr.Type == "" || hdr.ID == "" {
			return fmt.Errorf("taxii emulator: object %d is not a STIX object with type and id", i)
		}
	}
	return s.AddRawObjects(root, collection, dateAdded, objs...)
}

// AddRawObjects adds objects without checking them (to serve malformed
// entries).
func (s *TAXIIServer) AddRawObjects(root, collection string, dateAdded time.Time, objs ...json.RawMessage) error {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	c := s.collection(root, collection)
	if c == nil {
		return fmt.Errorf("taxii emulator: no collection %s/%s", root, collection)
	}
	for _, o := range objs {
		c.objects = append(c.objects, taxiiObject{dateAdded.UTC().Truncate(time.Microsecond), o})
	}
	sort.SliceStable(c.objects, func(i, j int) bool { return c.objects[i].dateAdded.Before(c.objects[j].dateAdded) })
	return nil
}

func (s *TAXIIServer) collection(root, id string) *taxiiCollection {
	r := s.roots[root]
	if r == nil {
		return nil
	}
	want, _ := json.Marshal(id)
	for _, c := range r.collections {
		if bytes.Equal(c.info["id"], want) {
			return c
		}
	}
	return nil
}

func (s *TAXIIServer) taxiiError(w http.ResponseWriter, status int, title string) {
	body, _ := json.Marshal(map[string]string{"title": title, "http_status": strconv.Itoa(status)})
	writeJSON(w, status, TAXIIMediaType, body)
}

func (s *TAXIIServer) serve(w http.ResponseWriter, r *http.Request) {
	if u, p, ok := r.BasicAuth(); !ok || u != s.Username || p != s.Password {
		w.Header().Set("WWW-Authenticate", `Basic realm="taxii"`)
		s.taxiiError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if r.Method != http.MethodGet {
		s.taxiiError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if acc := r.Header.Get("Accept"); !strings.Contains(strings.ReplaceAll(acc, " ", ""), "application/taxii+json") {
		s.taxiiError(w, http.StatusNotAcceptable, "Not Acceptable")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	s.dmu.Lock()
	defer s.dmu.Unlock()
	if len(parts) == 1 && parts[0] == "taxii2" {
		s.serveDiscovery(w)
		return
	}
	root := s.roots[parts[0]]
	if root == nil {
		s.taxiiError(w, http.StatusNotFound, "Not Found")
		return
	}
	switch {
	case len(parts) == 1:
		writeJSON(w, http.StatusOK, TAXIIMediaType, root.info)
	case len(parts) == 2 && parts[1] == "collections":
		list := make([]map[string]json.RawMessage, 0, len(root.collections))
		for _, c := range root.collections {
			list = append(list, c.info)
		}
		body, _ := json.Marshal(map[string]any{"collections": list})
		writeJSON(w, http.StatusOK, TAXIIMediaType, body)
	case len(parts) == 3 && parts[1] == "collections":
		c := s.collection(parts[0], parts[2])
		if c == nil {
			s.taxiiError(w, http.StatusNotFound, "Not Found")
			return
		}
		body, _ := json.Marshal(c.info)
		writeJSON(w, http.StatusOK, TAXIIMediaType, body)
	case len(parts) == 4 && parts[1] == "collections" && parts[3] == "objects":
		s.serveObjects(w, r, parts[0], parts[2])
	case len(parts) == 3 && parts[1] == "status":
		for _, st := range root.status {
			var hdr struct{ ID string }
			_ = json.Unmarshal(st, &hdr)
			if hdr.ID == parts[2] {
				writeJSON(w, http.StatusOK, TAXIIMediaType, st)
				return
			}
		}
		s.taxiiError(w, http.StatusNotFound, "Not Found")
	default:
		s.taxiiError(w, http.StatusNotFound, "Not Found")
	}
}

func (s *TAXIIServer) serveDiscovery(w http.ResponseWriter) {
	const fixtureBase = "http://localhost:5000"
	out := map[string]json.RawMessage{}
	for k, v := range s.discovery {
		out[k] = v
		if k == "default" || k == "api_roots" {
			out[k] = json.RawMessage(strings.ReplaceAll(string(v), fixtureBase, s.url))
		}
	}
	body, _ := json.Marshal(out)
	writeJSON(w, http.StatusOK, TAXIIMediaType, body)
}

func (s *TAXIIServer) serveObjects(w http.ResponseWriter, r *http.Request, root, id string) {
	c := s.collection(root, id)
	if c == nil {
		s.taxiiError(w, http.StatusNotFound, "Not Found")
		return
	}
	if string(c.info["can_read"]) != "true" {
		s.taxiiError(w, http.StatusForbidden, "Forbidden")
		return
	}
	q := r.URL.Query()
	var after time.Time
	if v := q.Get("added_after"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			s.taxiiError(w, http.StatusBadRequest, "bad added_after")
			return
		}
		after = t
	}
	limit := intParam(q, "limit", s.MaxPageSize)
	if limit < 1 {
		s.taxiiError(w, http.StatusBadRequest, "bad limit")
		return
	}
	limit = min(limit, max(s.MaxPageSize, 1))
	offset := 0
	if v := q.Get("next"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "o"))
		if err != nil || !strings.HasPrefix(v, "o") || n < 0 {
			s.taxiiError(w, http.StatusBadRequest, "bad next")
			return
		}
		offset = n
	}
	var match []taxiiObject
	for _, o := range c.objects {
		if after.IsZero() || o.dateAdded.After(after) {
			match = append(match, o)
		}
	}
	from := min(offset, len(match))
	to := min(from+limit, len(match))
	page := match[from:to]
	env := struct {
		More    bool              `json:"more"`
		Next    string            `json:"next,omitempty"`
		Objects []json.RawMessage `json:"objects,omitempty"`
	}{More: to < len(match)}
	if env.More {
		env.Next = "o" + strconv.Itoa(to)
	}
	for _, o := range page {
		env.Objects = append(env.Objects, o.raw)
	}
	if len(page) > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", page[0].dateAdded.Format(TAXIITimeLayout))
		w.Header().Set("X-TAXII-Date-Added-Last", page[len(page)-1].dateAdded.Format(TAXIITimeLayout))
	}
	body, _ := json.Marshal(env)
	writeJSON(w, http.StatusOK, TAXIIMediaType, body)
}
