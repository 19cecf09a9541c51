package simulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defender for Cloud recommendations: Microsoft.Security/assessments at
// api-version 2021-06-01, one assessment per recommendation (its name is
// the recommendation's assessment key) and assessed resource, and their
// governance assignments (2022-01-01-preview): who owns the remediation
// and by when. Assessments live under the resource they assess; the
// subscription-scope listing returns all of them.
//
// Go's ServeMux cannot match a scope of any depth before a literal, so a
// resource scope is one provider type deep
// (/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name}),
// which is what virtual machines, storage accounts and key vaults are.
const (
	asmAPIResource   = "Microsoft.Security/assessments"
	govAPIResource   = "Microsoft.Security/assessments/governanceAssignments"
	asmType          = "Microsoft.Security/assessments"
	govType          = "Microsoft.Security/assessments/governanceAssignments"
	asmSubScope      = "/subscriptions/{sub}"
	asmRGScope       = "/subscriptions/{sub}/resourceGroups/{rg}"
	asmResourceScope = "/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{rtype}/{rname}"
	asmProvider      = "/providers/Microsoft.Security/assessments"
	asmPageSize      = 50

	// Assessment status codes.
	AssessmentHealthy       = "Healthy"
	AssessmentUnhealthy     = "Unhealthy"
	AssessmentNotApplicable = "NotApplicable"
)

func init() {
	apiVersions[asmAPIResource] = []string{"2025-05-04", "2021-06-01", "2020-01-01"}
	apiVersions[govAPIResource] = []string{"2022-01-01-preview"}
}

// Assessment is one recommendation's result for one resource.
type Assessment struct {
	Name              string            `json:"name"` // the recommendation's assessment key
	DisplayName       string            `json:"displayName"`
	Description       string            `json:"description,omitempty"`
	Remediation       string            `json:"remediationDescription,omitempty"`
	Severity          string            `json:"severity,omitempty"` // Low, Medium, High
	ResourceID        string            `json:"resourceId"`
	Status            string            `json:"status,omitempty"`
	Cause             string            `json:"cause,omitempty"`
	StatusDescription string            `json:"statusDescription,omitempty"`
	AdditionalData    map[string]string `json:"additionalData,omitempty"`
	FirstEvaluation   time.Time         `json:"-"`
	StatusChange      time.Time         `json:"-"`
}

// GovernanceAssignment is an assessment's owner and remediation due date.
type GovernanceAssignment struct {
	Key                             string         `json:"key"`
	AssessmentName                  string         `json:"assessmentName"`
	ResourceID                      string         `json:"resourceId"`
	Owner                           string         `json:"owner"`
	RemediationDueDate              string         `json:"remediationDueDate"`
	IsGracePeriod                   bool           `json:"isGracePeriod"`
	RemediationETA                  map[string]any `json:"remediationEta,omitempty"`
	DisableManagerEmailNotification bool           `json:"disableManagerEmailNotification"`
	DisableOwnerEmailNotification   bool           `json:"disableOwnerEmailNotification"`
	AdditionalData                  map[string]any `json:"additionalData,omitempty"`
}

// assessStore holds one simulator's assessments and assignments, apart
// from the World so that this service stays in its own file.
type assessStore struct {
	mu      sync.Mutex
	list    []*Assessment                    // in creation order, for stable paging
	govs    map[string]*GovernanceAssignment // by govKey
	govList []string                         // keys in creation order
}

func (s *Simulator) assessStore() *assessStore { return s.asm }

func govKey(resourceID, assessment, key string) string {
	return strings.ToLower(strings.TrimPrefix(resourceID, "/") + "|" + assessment + "|" + key)
}

// RaiseAssessment creates or updates the assessment of a.Name on
// a.ResourceID (default status Unhealthy) and returns it as stored.
func (s *Simulator) RaiseAssessment(a Assessment) (Assessment, error) {
	if a.DisplayName == "" {
		return Assessment{}, fmt.Errorf("%w: displayName is required", ErrInvalidInput)
	}
	if a.Name == "" {
		a.Name = dfcGUID("assessment:" + a.DisplayName)
	}
	if a.ResourceID == "" {
		a.ResourceID = "/subscriptions/" + s.opt.SubscriptionID + "/resourceGroups/" + s.opt.ResourceGroup +
			"/providers/Microsoft.Compute/virtualMachines/vm-web-01"
	}
	if !strings.HasPrefix(a.ResourceID, "/") {
		a.ResourceID = "/" + a.ResourceID
	}
	if a.Status == "" {
		a.Status = AssessmentUnhealthy
	}
	if !slices.Contains([]string{AssessmentHealthy, AssessmentUnhealthy, AssessmentNotApplicable}, a.Status) {
		return Assessment{}, fmt.Errorf("%w: status must be Healthy, Unhealthy or NotApplicable", ErrInvalidInput)
	}
	if a.Severity == "" {
		a.Severity = "Medium"
	}
	now := s.clock.Now().UTC()
	st := s.assessStore()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, x := range st.list {
		if x.Name == a.Name && strings.EqualFold(x.ResourceID, a.ResourceID) {
			a.FirstEvaluation = x.FirstEvaluation
			a.StatusChange = x.StatusChange
			if x.Status != a.Status {
				a.StatusChange = now
			}
			*x = a
			return a, nil
		}
	}
	a.FirstEvaluation, a.StatusChange = now, now
	st.list = append(st.list, &a)
	return a, nil
}

// SetAssessmentHealth sets the status of assessment name on resourceID,
// or on every resource it assesses when resourceID is empty, as Defender
// for Cloud does when a resource is remediated. It returns how many
// assessments it changed.
func (s *Simulator) SetAssessmentHealth(name, resourceID, status string) (int, error) {
	if !slices.Contains([]string{AssessmentHealthy, AssessmentUnhealthy, AssessmentNotApplicable}, status) {
		return 0, fmt.Errorf("%w: status must be Healthy, Unhealthy or NotApplicable", ErrInvalidInput)
	}
	resourceID = "/" + strings.TrimPrefix(resourceID, "/")
	now := s.clock.Now().UTC()
	st := s.assessStore()
	st.mu.Lock()
	defer st.mu.Unlock()
	found, changed := false, 0
	for _, x := range st.list {
		if x.Name != name || (resourceID != "/" && !strings.EqualFold(x.ResourceID, resourceID)) {
			continue
		}
		found = true
		if x.Status != status {
			x.Status, x.StatusChange = status, now
			x.Cause, x.StatusDescription = "", ""
			changed++
		}
	}
	if !found {
		return 0, fmt.Errorf("%w: assessment %s", ErrNotFound, name)
	}
	return changed, nil
}

// GovernanceAssignments returns the governance assignments, oldest first.
func (s *Simulator) GovernanceAssignments() []GovernanceAssignment {
	st := s.assessStore()
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]GovernanceAssignment, 0, len(st.govList))
	for _, k := range st.govList {
		out = append(out, *st.govs[k])
	}
	return out
}

func (s *Simulator) assessmentRoutes() {
	list := func(scope, name string) {
		s.handle("GET "+scope+asmProvider, name, audARM, s.asmList)
	}
	list(asmSubScope, "defender.assessments.list")
	list(asmRGScope, "defender.assessments.list")
	list(asmResourceScope, "defender.assessments.list")
	for _, scope := range []string{asmSubScope, asmResourceScope} {
		s.handle("GET "+scope+asmProvider+"/{name}", "defender.assessments.get", audARM, s.asmGet)
		gov := scope + asmProvider + "/{name}/governanceAssignments"
		s.handle("GET "+gov, "defender.governance.list", audARM, s.govList)
		s.handle("GET "+gov+"/{key}", "defender.governance.get", audARM, s.govGet)
		s.handle("PUT "+gov+"/{key}", "defender.governance.put", audARM, s.govPut)
		s.handle("DELETE "+gov+"/{key}", "defender.governance.delete", audARM, s.govDelete)
	}

	// A subscription owner whose resources Defender for Cloud assesses.
	s.handle("POST /sim/v1/defender/assessments", "sim.defender.assessments.raise", "", func(w http.ResponseWriter, r *http.Request) {
		var a Assessment
		if err := decodeJSON(r, &a); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON object: " + err.Error()})
			return
		}
		got, err := s.RaiseAssessment(a)
		if err != nil {
			simError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"id": asmID(&got), "name": got.Name, "resourceId": got.ResourceID, "status": got.Status})
	})
	s.handle("POST /sim/v1/defender/assessments/{name}/health", "sim.defender.assessments.health", "", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Status     string `json:"status"`
			ResourceID string `json:"resourceId"`
		}
		if err := decodeJSON(r, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		n, err := s.SetAssessmentHealth(r.PathValue("name"), body.ResourceID, body.Status)
		if err != nil {
			simError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"changed": n})
	})
}

// asmScope checks the api-version and the path's subscription and
// resource group, and returns the scope's resource id prefix.
func (s *Simulator) asmScope(w http.ResponseWriter, r *http.Request, resourceType string) (string, bool) {
	if !s.checkAPIVersion(w, r, resourceType) {
		return "", false
	}
	sub := r.PathValue("sub")
	if !strings.EqualFold(sub, s.opt.SubscriptionID) {
		writeJSON(w, http.StatusNotFound, armErrorBody("SubscriptionNotFound", "The subscription '"+sub+"' could not be found."))
		return "", false
	}
	scope := "/subscriptions/" + sub
	if rg := r.PathValue("rg"); rg != "" {
		scope += "/resourceGroups/" + rg
	}
	if ns := r.PathValue("ns"); ns != "" {
		scope += "/providers/" + ns + "/" + r.PathValue("rtype") + "/" + r.PathValue("rname")
	}
	return scope, true
}

// asmInScope reports whether resourceID is scope or below it. A resource
// scope names exactly one resource.
func asmInScope(r *http.Request, scope, resourceID string) bool {
	if r.PathValue("ns") != "" {
		return strings.EqualFold(resourceID, scope)
	}
	return strings.EqualFold(resourceID, scope) || strings.HasPrefix(strings.ToLower(resourceID), strings.ToLower(scope)+"/")
}

func asmID(a *Assessment) string { return a.ResourceID + asmProvider + "/" + a.Name }

func (s *Simulator) asmList(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.asmScope(w, r, asmAPIResource)
	if !ok {
		return
	}
	offset := 0
	if tok := r.URL.Query().Get(dfcSkipTokenParameter); tok != "" {
		n, ok := dfcParseSkipToken(tok)
		if !ok {
			armBadRequest(w, "The $skipToken '"+tok+"' is invalid.")
			return
		}
		offset = n
	}
	st := s.assessStore()
	st.mu.Lock()
	var matched []Assessment
	for _, a := range st.list {
		if asmInScope(r, scope, a.ResourceID) {
			matched = append(matched, *a)
		}
	}
	st.mu.Unlock()
	page := []any{}
	end := min(offset+asmPageSize, len(matched))
	for i := offset; i < end; i++ {
		page = append(page, s.asmJSON(&matched[i], ""))
	}
	body := map[string]any{"value": page}
	if end < len(matched) {
		body["nextLink"] = s.dfcNextLink(r, end)
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Simulator) asmGet(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.asmScope(w, r, asmAPIResource)
	if !ok {
		return
	}
	expand := r.URL.Query().Get("$expand")
	if expand != "" && expand != "links" && expand != "metadata" {
		armBadRequest(w, "The $expand value '"+expand+"' is invalid; valid values are links and metadata.")
		return
	}
	a, ok := s.asmLookup(scope, r.PathValue("name"))
	if !ok {
		armNotFound(w, "Assessment '"+r.PathValue("name")+"'")
		return
	}
	writeJSON(w, http.StatusOK, s.asmJSON(&a, expand))
}

func (s *Simulator) asmLookup(resourceID, name string) (Assessment, bool) {
	st := s.assessStore()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, a := range st.list {
		if a.Name == name && strings.EqualFold(a.ResourceID, resourceID) {
			return *a, true
		}
	}
	return Assessment{}, false
}

// asmJSON renders an assessment as Microsoft.Security/assessments
// 2021-06-01 does; expand adds links or metadata.
func (s *Simulator) asmJSON(a *Assessment, expand string) map[string]any {
	status := map[string]any{"code": a.Status}
	if a.Cause != "" {
		status["cause"] = a.Cause
	}
	if a.StatusDescription != "" {
		status["description"] = a.StatusDescription
	}
	status["firstEvaluationDate"] = dfcTime(a.FirstEvaluation)
	status["statusChangeDate"] = dfcTime(a.StatusChange)
	props := map[string]any{
		"resourceDetails": map[string]any{"source": "Azure", "id": a.ResourceID},
		"displayName":     a.DisplayName,
		"status":          status,
	}
	if len(a.AdditionalData) > 0 {
		props["additionalData"] = a.AdditionalData
	}
	switch expand {
	case "links":
		props["links"] = map[string]any{"azurePortalUri": "https://www.portal.azure.com/?fea#blade/Microsoft_Azure_Security/RecommendationsBlade/assessmentKey/" + a.Name}
	case "metadata":
		props["metadata"] = map[string]any{
			"displayName":            a.DisplayName,
			"description":            a.Description,
			"remediationDescription": a.Remediation,
			"severity":               a.Severity,
			"assessmentType":         "BuiltIn",
			"categories":             []string{"Compute"},
			"userImpact":             "Low",
			"implementationEffort":   "Low",
			"threats":                []string{},
		}
	}
	return map[string]any{"id": asmID(a), "name": a.Name, "type": asmType, "properties": props}
}

// govList lists an assessment's governance assignments on the resources
// under the path's scope (the subscription, in Microsoft's example).
func (s *Simulator) govList(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.asmScope(w, r, govAPIResource)
	if !ok {
		return
	}
	name := r.PathValue("name")
	st := s.assessStore()
	st.mu.Lock()
	value := []any{}
	for _, k := range st.govList {
		g := st.govs[k]
		if g.AssessmentName == name && asmInScope(r, scope, g.ResourceID) {
			value = append(value, govJSON(g))
		}
	}
	st.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"value": value})
}

func (s *Simulator) govGet(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.asmScope(w, r, govAPIResource)
	if !ok {
		return
	}
	st := s.assessStore()
	st.mu.Lock()
	g, found := st.govs[govKey(scope, r.PathValue("name"), r.PathValue("key"))]
	var body map[string]any
	if found {
		body = govJSON(g)
	}
	st.mu.Unlock()
	if !found {
		armNotFound(w, "Governance assignment '"+r.PathValue("key")+"'")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// govPutBody is the request body; owner and remediationDueDate are
// required, as the service requires them.
type govPutBody struct {
	Properties *struct {
		Owner                       string         `json:"owner"`
		RemediationDueDate          string         `json:"remediationDueDate"`
		RemediationETA              map[string]any `json:"remediationEta"`
		IsGracePeriod               bool           `json:"isGracePeriod"`
		GovernanceEmailNotification *struct {
			DisableManagerEmailNotification bool `json:"disableManagerEmailNotification"`
			DisableOwnerEmailNotification   bool `json:"disableOwnerEmailNotification"`
		} `json:"governanceEmailNotification"`
		AdditionalData map[string]any `json:"additionalData"`
	} `json:"properties"`
}

func (s *Simulator) govPut(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.asmScope(w, r, govAPIResource)
	if !ok {
		return
	}
	name, key := r.PathValue("name"), r.PathValue("key")
	if _, ok := s.asmLookup(scope, name); !ok {
		armNotFound(w, "Assessment '"+name+"' on '"+scope+"'")
		return
	}
	var body govPutBody
	if err := decodeJSON(r, &body); err != nil || body.Properties == nil {
		armBadRequest(w, "The request body must be a governance assignment with properties.")
		return
	}
	p := body.Properties
	if p.Owner == "" {
		armBadRequest(w, "The property 'owner' is required.")
		return
	}
	due, err := time.Parse(time.RFC3339Nano, p.RemediationDueDate)
	if err != nil {
		armBadRequest(w, "The property 'remediationDueDate' must be a date-time.")
		return
	}
	g := &GovernanceAssignment{Key: key, AssessmentName: name, ResourceID: scope, Owner: p.Owner,
		RemediationDueDate: dfcTime(due), IsGracePeriod: p.IsGracePeriod, RemediationETA: p.RemediationETA,
		AdditionalData: p.AdditionalData}
	if n := p.GovernanceEmailNotification; n != nil {
		g.DisableManagerEmailNotification, g.DisableOwnerEmailNotification = n.DisableManagerEmailNotification, n.DisableOwnerEmailNotification
	}
	k := govKey(scope, name, key)
	st := s.assessStore()
	st.mu.Lock()
	_, existed := st.govs[k]
	st.govs[k] = g
	if !existed {
		st.govList = append(st.govList, k)
	}
	out := govJSON(g)
	st.mu.Unlock()
	code := http.StatusCreated
	if existed {
		code = http.StatusOK
	}
	writeJSON(w, code, out)
}

func (s *Simulator) govDelete(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.asmScope(w, r, govAPIResource)
	if !ok {
		return
	}
	k := govKey(scope, r.PathValue("name"), r.PathValue("key"))
	st := s.assessStore()
	st.mu.Lock()
	_, existed := st.govs[k]
	delete(st.govs, k)
	st.govList = slices.DeleteFunc(st.govList, func(x string) bool { return x == k })
	st.mu.Unlock()
	// ARM answers a delete of what is not there with 204.
	if existed {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func govJSON(g *GovernanceAssignment) map[string]any {
	props := map[string]any{
		"owner":              g.Owner,
		"remediationDueDate": g.RemediationDueDate,
		"isGracePeriod":      g.IsGracePeriod,
		"governanceEmailNotification": map[string]any{
			"disableManagerEmailNotification": g.DisableManagerEmailNotification,
			"disableOwnerEmailNotification":   g.DisableOwnerEmailNotification,
		},
	}
	if g.RemediationETA != nil {
		props["remediationEta"] = g.RemediationETA
	}
	if g.AdditionalData != nil {
		props["additionalData"] = g.AdditionalData
	}
	return map[string]any{
		"id":         g.ResourceID + asmProvider + "/" + g.AssessmentName + "/governanceAssignments/" + g.Key,
		"name":       g.Key,
		"type":       govType,
		"properties": props,
	}
}
