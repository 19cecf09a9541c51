package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Sentinel's threat-intelligence upload API (Preview), as documented at
// https://learn.microsoft.com/azure/sentinel/stix-objects-api:
// POST /workspaces/{workspaceId}/threat-intelligence-stix-objects:upload
// with an ARM token, {"sourcesystem", "stixobjects"}, at most 100 objects
// a request and 100 requests a minute; per-object errors come back by
// index. See README.md ("Threat intelligence upload API") for where the
// simulator decides what the documentation leaves open.

// The upload API's documented limits and version.
const (
	tiAPIVersion     = "2024-02-01-preview"
	tiMaxObjects     = 100
	tiRequestsPerMin = 100
	// tiMaxBody is the simulator's own bound on a request body; the
	// documentation gives none.
	tiMaxBody = 4 << 20
	// tiReservedSource is the source system the service keeps for itself.
	tiReservedSource = "Microsoft Sentinel"
)

// tiTypes are the STIX object types the documentation lists as supported,
// with the properties STIX 2.1 requires of each beyond the common ones.
var tiTypes = map[string][]string{
	"indicator":      {"pattern", "pattern_type", "valid_from"},
	"attack-pattern": {"name"},
	"threat-actor":   {"name"},
	"identity":       {"name"},
	"relationship":   {"relationship_type", "source_ref", "target_ref"},
}

// tiState is the workspace's threat intelligence (uploaded STIX objects,
// by id) and the upload API's request window. Guarded by World.mu; the
// zero value is ready.
type tiState struct {
	objects map[string]tiObject
	// requests are the times of the upload requests of the last minute,
	// oldest first.
	requests []time.Time
}

// tiObject is a stored STIX object, the version with the latest modified.
type tiObject struct {
	obj      map[string]any
	modified time.Time
}

// tiWorkspaceGUID is the workspace id the upload API takes: the Log
// Analytics workspace id (a GUID), Info.WorkspaceID, the same as Sentinel
// alerts' resourceIdentifiers.workspaceId.
func (s *Simulator) tiWorkspaceGUID() string {
	return sentinelDerivedGUID("workspace:" + strings.ToLower(s.sentinelWorkspaceID()))
}

// TIObjects returns the stored STIX objects, the latest version of each,
// ordered by id. The maps are copies.
func (w *World) TIObjects() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]string, 0, len(w.ti.objects))
	for id := range w.ti.objects {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		out = append(out, cloneJSONMap(w.ti.objects[id].obj))
	}
	return out
}

// cloneJSONMap deep-copies a decoded JSON object.
func cloneJSONMap(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

// upsertTI stores objects by STIX id: a version with a later modified
// replaces the stored one, an older or equal one is ignored (STIX 2.1
// §3.6: the latest modified is the current version).
func (w *World) upsertTI(objs []tiParsed) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ti.objects == nil {
		w.ti.objects = map[string]tiObject{}
	}
	for _, o := range objs {
		if cur, ok := w.ti.objects[o.id]; ok && !o.modified.After(cur.modified) {
			continue
		}
		w.ti.objects[o.id] = tiObject{obj: o.obj, modified: o.modified}
	}
}

// tiThrottle counts one request against the workspace's window at now. It
// returns 0, or the wait until a request would be taken again.
func (w *World) tiThrottle(now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := 0
	for i < len(w.ti.requests) && !now.Before(w.ti.requests[i].Add(time.Minute)) {
		i++
	}
	w.ti.requests = w.ti.requests[i:]
	if len(w.ti.requests) >= tiRequestsPerMin {
		return w.ti.requests[0].Add(time.Minute).Sub(now)
	}
	w.ti.requests = append(w.ti.requests, now)
	return 0
}

// tiUploadRoutes registers the upload API and its control route.
func (s *Simulator) tiUploadRoutes() {
	s.handle("POST /workspaces/{workspaceId}/threat-intelligence-stix-objects:upload", "sentinel.tiupload", audARM, s.tiUpload)
	s.handle("GET /sim/v1/sentinel/ti-objects", "sim.sentinel.tiobjects", "", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"value": s.world.TIObjects()})
	})
}

// tiError writes the gateway's error shape, the one the documentation
// shows for 429, which the simulator uses for its other errors too.
func tiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"statusCode": code, "message": msg})
}

// tiObjectError is one entry of the documented per-object error list.
type tiObjectError struct {
	RecordIndex   int      `json:"recordIndex"`
	ErrorMessages []string `json:"errorMessages"`
}

func (s *Simulator) tiUpload(w http.ResponseWriter, r *http.Request) {
	if v := r.URL.Query().Get("api-version"); v != tiAPIVersion {
		msg := "The api-version query parameter is required; the supported version is '" + tiAPIVersion + "'."
		if v != "" {
			msg = fmt.Sprintf("The api-version '%s' is not supported; the supported version is '%s'.", v, tiAPIVersion)
		}
		tiError(w, http.StatusBadRequest, msg)
		return
	}
	if !strings.EqualFold(r.PathValue("workspaceId"), s.tiWorkspaceGUID()) {
		tiError(w, http.StatusNotFound, fmt.Sprintf("Workspace '%s' was not found.", r.PathValue("workspaceId")))
		return
	}
	if wait := s.world.tiThrottle(s.clock.Now()); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		tiError(w, http.StatusTooManyRequests, fmt.Sprintf("Rate limit is exceeded. Try again in %d seconds.", secs))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, tiMaxBody+1))
	if err != nil {
		tiError(w, http.StatusBadRequest, "The request body could not be read.")
		return
	}
	if len(body) > tiMaxBody {
		tiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body exceeds %d bytes.", tiMaxBody))
		return
	}
	req, err := parseTIUpload(body)
	if err != nil {
		tiError(w, http.StatusBadRequest, err.Error())
		return
	}
	var accepted []tiParsed
	var errs []tiObjectError
	for i, raw := range req.objects {
		p, msgs := validateSTIXObject(raw)
		if len(msgs) > 0 {
			errs = append(errs, tiObjectError{RecordIndex: i, ErrorMessages: msgs})
			continue
		}
		accepted = append(accepted, p)
	}
	s.world.upsertTI(accepted)
	switch {
	case len(errs) == 0:
		// As documented: 200 with an empty body.
		w.WriteHeader(http.StatusOK)
	case len(accepted) == 0:
		// 200 means "one or more objects published"; with none, the
		// request was not correctly formatted.
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": errs})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"errors": errs})
	}
}

// tiUploadRequest is a parsed request body.
type tiUploadRequest struct {
	source  string
	objects []json.RawMessage
}

// parseTIUpload reads the request body: a JSON object with "sourcesystem"
// (a string other than "Microsoft Sentinel") and "stixobjects" (an array
// of 1 to 100 elements). Property names are matched without regard to
// case, as the documentation spells the field "SourceSystem" and
// "sourcesystem" in different places.
func parseTIUpload(body []byte) (tiUploadRequest, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return tiUploadRequest{}, errors.New("The request body must be a JSON object with 'sourcesystem' and 'stixobjects'.")
	}
	srcRaw, objsRaw := tiProperty(top, "sourcesystem"), tiProperty(top, "stixobjects")
	var req tiUploadRequest
	if err := json.Unmarshal(srcRaw, &req.source); srcRaw == nil || err != nil || strings.TrimSpace(req.source) == "" {
		return tiUploadRequest{}, errors.New("The 'sourcesystem' property is required and must be a non-empty string.")
	}
	if strings.EqualFold(strings.TrimSpace(req.source), tiReservedSource) {
		return tiUploadRequest{}, fmt.Errorf("The source system '%s' is restricted.", tiReservedSource)
	}
	if err := json.Unmarshal(objsRaw, &req.objects); objsRaw == nil || err != nil || req.objects == nil {
		return tiUploadRequest{}, errors.New("The 'stixobjects' property is required and must be an array.")
	}
	switch n := len(req.objects); {
	case n == 0:
		return tiUploadRequest{}, errors.New("The 'stixobjects' array is empty.")
	case n > tiMaxObjects:
		return tiUploadRequest{}, fmt.Errorf("The 'stixobjects' array has %d objects; at most %d are allowed per request.", n, tiMaxObjects)
	}
	return req, nil
}

// tiProperty is top's property name, matched exactly or else without
// regard to case (the first such key in sorted order, so that the choice
// is stable).
func tiProperty(top map[string]json.RawMessage, name string) json.RawMessage {
	if v, ok := top[name]; ok {
		return v
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if strings.EqualFold(k, name) {
			return top[k]
		}
	}
	return nil
}

// tiParsed is a valid STIX object.
type tiParsed struct {
	id       string
	modified time.Time
	obj      map[string]any
}

// stixIDPattern is STIX 2.1 §2.9's identifier: type "--" UUID.
var stixIDPattern = regexp.MustCompile(`^([a-z0-9-]+)--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// validateSTIXObject checks one element of "stixobjects": the common
// properties the documentation marks required (id, type, created,
// modified), the optional ones it constrains (spec_version 2.0 or 2.1,
// confidence 0-100, labels, revoked), and the type's own required
// properties. It returns every problem found, worded as the
// documentation's example ("Error for Property=id: Required property is
// missing. Actual value: NULL.").
func validateSTIXObject(raw json.RawMessage) (tiParsed, []string) {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return tiParsed{}, []string{"Error for Property=stixobjects: The record is not a JSON object. Actual value: " + tiActual(raw) + "."}
	}
	var msgs []string
	missing := func(p string) {
		msgs = append(msgs, "Error for Property="+p+": Required property is missing. Actual value: NULL.")
	}
	invalid := func(p, why string, v any) {
		msgs = append(msgs, "Error for Property="+p+": "+why+" Actual value: "+tiActualValue(v)+".")
	}
	str := func(p string) (string, bool) {
		v, ok := obj[p]
		if !ok || v == nil {
			missing(p)
			return "", false
		}
		s, ok := v.(string)
		if !ok || strings.TrimSpace(s) == "" {
			invalid(p, "The value must be a non-empty string.", v)
			return "", false
		}
		return s, true
	}
	stamp := func(p string, required bool) (time.Time, bool) {
		if _, ok := obj[p]; !ok && !required {
			return time.Time{}, false
		}
		s, ok := str(p)
		if !ok {
			return time.Time{}, false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			invalid(p, "The value must be a timestamp (RFC 3339).", s)
			return time.Time{}, false
		}
		return t, true
	}

	typ, typOK := str("type")
	required, supported := tiTypes[typ]
	if typOK && !supported {
		invalid("type", "The STIX object type is not supported.", typ)
	}
	id, idOK := str("id")
	if idOK {
		m := stixIDPattern.FindStringSubmatch(id)
		switch {
		case m == nil:
			invalid("id", "The value must be an identifier of the form <type>--<UUID>.", id)
		case typOK && m[1] != typ:
			invalid("id", "The identifier's type must be the object's type '"+typ+"'.", id)
		}
	}
	if v, ok := obj["spec_version"]; !ok {
		// As documented: the API defaults it to 2.1.
		obj["spec_version"] = "2.1"
	} else if v != "2.1" && v != "2.0" {
		invalid("spec_version", "The value must be '2.0' or '2.1'.", v)
	}
	created, createdOK := stamp("created", true)
	modified, modifiedOK := stamp("modified", true)
	if createdOK && modifiedOK && modified.Before(created) {
		invalid("modified", "The value must not be earlier than created.", obj["modified"])
	}
	if v, ok := obj["confidence"]; ok {
		n, isNum := v.(json.Number)
		c, err := n.Int64()
		if !isNum || err != nil || c < 0 || c > 100 {
			invalid("confidence", "The value must be an integer from 0 to 100.", v)
		}
	}
	if v, ok := obj["labels"]; ok {
		if !tiStrings(v) {
			invalid("labels", "The value must be a list of strings.", v)
		}
	}
	if v, ok := obj["revoked"]; ok {
		if _, isBool := v.(bool); !isBool {
			invalid("revoked", "The value must be a boolean.", v)
		}
	}
	if supported {
		for _, p := range required {
			if p == "valid_from" {
				continue
			}
			str(p)
		}
		if typ == "indicator" {
			from, fromOK := stamp("valid_from", true)
			until, untilOK := stamp("valid_until", false)
			if fromOK && untilOK && !until.After(from) {
				invalid("valid_until", "The value must be later than valid_from.", obj["valid_until"])
			}
		}
	}
	if len(msgs) > 0 {
		return tiParsed{}, msgs
	}
	return tiParsed{id: id, modified: modified, obj: obj}, nil
}

// tiStrings reports whether v is a JSON array of strings.
func tiStrings(v any) bool {
	a, ok := v.([]any)
	if !ok {
		return false
	}
	for _, e := range a {
		if _, ok := e.(string); !ok {
			return false
		}
	}
	return true
}

// tiActual shows a raw value in an error message, shortened.
func tiActual(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if r := []rune(s); len(r) > 100 {
		s = string(r[:100]) + "…"
	}
	return s
}

func tiActualValue(v any) string {
	if s, ok := v.(string); ok {
		return tiActual(json.RawMessage(s))
	}
	b, _ := json.Marshal(v)
	return tiActual(b)
}
