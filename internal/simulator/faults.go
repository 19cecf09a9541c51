package simulator

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault kinds.
const (
	FaultStatus             = "status"              // answer Status (429, 500, 503) with Retry-After
	FaultLatency            = "latency"             // delay the answer
	FaultInsufficientAccess = "insufficient_access" // 403 as right after a role assignment
	FaultPortalEdit         = "portal_edit"         // a portal user edits the resource just before this write
)

// Fault is one injected misbehaviour. Endpoint names a route (for example
// "sentinel.incidents.put"), a prefix ending in "." ("sentinel."), or "*".
type Fault struct {
	Endpoint   string `json:"endpoint"`
	Kind       string `json:"kind"`
	Status     int    `json:"status,omitempty"`
	RetryAfter int    `json:"retry_after,omitempty"` // seconds
	LatencyMS  int    `json:"latency_ms,omitempty"`
	// Times is how many matching requests it affects; 0 means until cleared.
	Times int `json:"times,omitempty"`
}

func (f *Fault) matches(name string) bool {
	switch {
	case strings.HasPrefix(name, "sim."):
		// The control API is the simulator's own, not a simulated
		// service: a "*" fault must not lock out the call that clears it.
		return false
	case f.Endpoint == "*" || f.Endpoint == name:
		return true
	case strings.HasSuffix(f.Endpoint, "."):
		return strings.HasPrefix(name, f.Endpoint)
	}
	return false
}

type faultTable struct {
	mu     sync.Mutex
	faults []*Fault
	hits   map[string]int // requests per route name, for tests
}

func newFaultTable() *faultTable { return &faultTable{hits: map[string]int{}} }

// Inject adds a fault.
func (s *Simulator) Inject(f Fault) {
	s.faults.mu.Lock()
	s.faults.faults = append(s.faults.faults, &f)
	s.faults.mu.Unlock()
}

// ClearFaults removes every fault.
func (s *Simulator) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.faults = nil
	s.faults.mu.Unlock()
}

// Hits reports how many requests reached the named route.
func (s *Simulator) Hits(name string) int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.hits[name]
}

// ExpireTokens expires every issued token now.
func (s *Simulator) ExpireTokens() int { return s.tokens.expireAll(s.clock.Now()) }

// take returns the faults that apply to this request, using up their
// counts.
func (ft *faultTable) take(name string) []Fault {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.hits[name]++
	var out []Fault
	kept := ft.faults[:0]
	for _, f := range ft.faults {
		if f.matches(name) {
			out = append(out, *f)
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					continue
				}
			}
		}
		kept = append(kept, f)
	}
	ft.faults = kept
	return out
}

type portalEditKey struct{}

// portalEdit reports whether a concurrent portal edit must be applied
// before this write; write handlers that support it check this.
func portalEdit(ctx context.Context) bool {
	v, _ := ctx.Value(portalEditKey{}).(bool)
	return v
}

// handle registers a route: faults first (as a throttling gateway would
// answer before authentication), then the token check for audience aud
// ("" for none), then h. name identifies the route for faults and Hits.
func (s *Simulator) handle(pattern, name, aud string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r, ok := s.applyFaults(name, aud, w, r)
		if !ok {
			return
		}
		if aud != "" && !s.authorize(aud, w, r) {
			return
		}
		h(w, r)
	})
}

// applyFaults applies the faults injected for route name. It returns false
// when a fault has answered the request, and otherwise the request to
// carry on with (marked when a portal edit must precede the write).
func (s *Simulator) applyFaults(name, aud string, w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	nameRequest(r, name)
	for _, f := range s.faults.take(name) {
		switch f.Kind {
		case FaultLatency:
			select {
			case <-time.After(time.Duration(f.LatencyMS) * time.Millisecond):
			case <-r.Context().Done():
				return r, false
			}
		case FaultStatus:
			s.faultStatus(w, aud, f)
			return r, false
		case FaultInsufficientAccess:
			s.insufficientAccess(w, aud)
			return r, false
		case FaultPortalEdit:
			r = r.WithContext(context.WithValue(r.Context(), portalEditKey{}, true))
		}
	}
	return r, true
}

func (s *Simulator) faultStatus(w http.ResponseWriter, aud string, f Fault) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	code, msg := "InternalServerError", "An internal server error occurred."
	switch f.Status {
	case http.StatusTooManyRequests:
		code, msg = "TooManyRequests", "Too many requests, please retry later."
	case http.StatusServiceUnavailable:
		code, msg = "ServiceUnavailable", "The service is temporarily unavailable."
	}
	switch aud {
	case audGraph:
		if f.Status == http.StatusTooManyRequests {
			code, msg = "TooManyRequests", "Too many requests."
		}
		writeJSON(w, f.Status, graphError(code, msg, s.clock.Now()))
	case audDevOps:
		writeJSON(w, f.Status, devopsError("VssServiceException", msg, 0))
	default:
		writeJSON(w, f.Status, armErrorBody(code, msg))
	}
}

// insufficientAccess answers as Microsoft's services do for a principal
// whose role assignment has not propagated yet.
func (s *Simulator) insufficientAccess(w http.ResponseWriter, aud string) {
	msg := "The client '" + s.opt.ClientID + "' with object id '" + s.opt.ClientID + "' does not have authorization to perform this action or the scope is invalid. If access was recently granted, please refresh your credentials."
	switch aud {
	case audGraph:
		writeJSON(w, http.StatusForbidden, graphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation.", s.clock.Now()))
	case audDevOps:
		writeJSON(w, http.StatusForbidden, devopsError("UnauthorizedRequestException", "TF400813: "+msg, 0))
	default:
		writeJSON(w, http.StatusForbidden, armErrorBody("InsufficientAccessError", msg))
	}
}

// graphError is Microsoft Graph's error shape.
func graphError(code, msg string, now time.Time) map[string]any {
	return map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"innerError": map[string]any{"date": now.UTC().Format("2006-01-02T15:04:05"), "request-id": newGUID(), "client-request-id": newGUID()},
	}}
}

// devopsError is Azure DevOps' error shape.
func devopsError(typeKey, msg string, errorCode int) map[string]any {
	return map[string]any{
		"$id": "1", "innerException": nil, "message": msg,
		"typeName": "Microsoft.TeamFoundation.WorkItemTracking.Server." + typeKey + ", Microsoft.TeamFoundation.WorkItemTracking.Server",
		"typeKey":  typeKey, "errorCode": errorCode, "eventId": 3200,
	}
}

// decodeJSON reads a JSON body strictly enough for the simulated services.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4<<20))
	return dec.Decode(v)
}
