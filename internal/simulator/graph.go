package simulator

// Microsoft Graph security v1.0, served under /graph (the simulator's
// graph_url is base+"/graph"):
//
//	GET   /graph/v1.0/security/alerts_v2           $filter $top $skip $count, @odata.nextLink
//	GET   /graph/v1.0/security/alerts_v2/{id}
//	PATCH /graph/v1.0/security/alerts_v2/{id}      status classification determination assignedTo customDetails
//	POST  /graph/v1.0/security/alerts_v2/{id}/comments
//	GET   /graph/v1.0/security/incidents           $filter $top $skip $count $expand=alerts
//	GET   /graph/v1.0/security/incidents/{id}      $expand=alerts
//	PATCH /graph/v1.0/security/incidents/{id}      status classification determination assignedTo customTags
//	POST  /graph/v1.0/security/incidents/{id}/comments
//	GET   /graph/v1.0/security/alerts              legacy; $filter on vendorInformation/provider, status ...
//	GET   /graph/v1.0/security/alerts/{id}
//	PATCH /graph/v1.0/security/alerts/{id}         legacy; vendorInformation required; 204
//	POST  /sim/v1/graph/alerts                     control API: raise an alert of another serviceSource
//
// Every Defender for Cloud alert of the world is an alerts_v2 alert with
// serviceSource microsoftDefenderForCloud, and every Sentinel incident is a
// Graph incident (the unified Defender XDR portal shows Sentinel incidents),
// so state lives in the world and Graph only adds what Sentinel and
// Defender for Cloud do not hold (assignedTo, classification and
// determination of alerts, alert comments, ...), in World.graph.
//
// Enum spellings: Graph emits camelCase members, as the current service
// does. The docs' incident examples (incidents_list.json,
// incident_update_*.json) show PascalCase ("Active", "TruePositive"); input
// is matched case-insensitively, so both spellings are accepted, but the
// output is always camelCase.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const graphSecurityPath = "/graph/v1.0/security"

// Enumerations, in the order of the v1.0 metadata: members after
// unknownFutureValue are evolvable and only sent to clients that ask with
// "Prefer: include-unknown-enum-members".
var (
	graphAlertStatuses    = []string{"unknown", "new", "inProgress", "resolved", "unknownFutureValue"}
	graphIncidentStatuses = []string{"active", "resolved", "inProgress", "redirected", "unknownFutureValue", "awaitingAction"}
	graphSeverities       = []string{"unknown", "informational", "low", "medium", "high", "unknownFutureValue"}
	graphClassifications  = []string{"unknown", "falsePositive", "truePositive", "informationalExpectedActivity", "unknownFutureValue"}
	graphDeterminations   = []string{"unknown", "apt", "malware", "securityPersonnel", "securityTesting", "unwantedSoftware", "other",
		"multiStagedAttack", "compromisedAccount", "phishing", "maliciousUserActivity", "notMalicious", "notEnoughDataToValidate",
		"confirmedActivity", "lineOfBusinessApplication", "unknownFutureValue"}
	graphServiceSources = []string{"unknown", "microsoftDefenderForEndpoint", "microsoftDefenderForIdentity", "microsoftDefenderForCloudApps",
		"microsoftDefenderForOffice365", "microsoft365Defender", "azureAdIdentityProtection", "microsoftAppGovernance", "dataLossPrevention",
		"unknownFutureValue", "microsoftDefenderForCloud"}
	graphDetectionSources = []string{"unknown", "microsoftDefenderForEndpoint", "antivirus", "smartScreen", "customTi",
		"microsoftDefenderForOffice365", "automatedInvestigation", "microsoftThreatExperts", "customDetection", "microsoftDefenderForIdentity",
		"cloudAppSecurity", "microsoft365Defender", "azureAdIdentityProtection", "manual", "microsoftDataLossPrevention", "appGovernancePolicy",
		"appGovernanceDetection", "unknownFutureValue", "microsoftDefenderForCloud", "microsoftDefenderForIoT", "microsoftDefenderForServers",
		"microsoftDefenderForStorage", "microsoftDefenderForDNS", "microsoftDefenderForDatabases", "microsoftDefenderForContainers",
		"microsoftDefenderForNetwork", "microsoftDefenderForAppService", "microsoftDefenderForKeyVault", "microsoftDefenderForResourceManager",
		"microsoftDefenderForApiManagement"}
	// The docs spell some members differently from the metadata (and
	// from Microsoft's Go SDK); those spellings are accepted on input.
	graphEnumAliases = map[string]string{
		"benignpositive": "informationalExpectedActivity", "compromiseduser": "compromisedAccount", "clean": "notMalicious",
		"insufficientdata": "notEnoughDataToValidate", "confirmeduseractivity": "confirmedActivity",
	}
	// Legacy /security/alerts enumerations (namespace microsoft.graph).
	legacyAlertStatuses = []string{"unknown", "newAlert", "inProgress", "resolved"}
	legacyFeedbacks     = []string{"unknown", "truePositive", "falsePositive", "benignPositive"}
)

// graphEnum returns the canonical camelCase member of members that v
// names, case-insensitively.
func graphEnum(members []string, v string) (string, bool) {
	for _, m := range members {
		if strings.EqualFold(m, v) {
			return m, true
		}
	}
	if a, ok := graphEnumAliases[strings.ToLower(v)]; ok && slices.Contains(members, a) {
		return a, true
	}
	return "", false
}

// graphEvolvable hides an evolvable member from a client that did not opt
// in, as Graph does.
func graphEvolvable(members []string, v string, include bool) string {
	if include {
		return v
	}
	if j := slices.Index(members, v); j > slices.Index(members, "unknownFutureValue") {
		return "unknownFutureValue"
	}
	return v
}

func preferUnknownEnums(r *http.Request) bool { return graphPrefer(r, "include-unknown-enum-members") }

func graphPrefer(r *http.Request, pref string) bool {
	for _, h := range r.Header.Values("Prefer") {
		for p := range strings.SplitSeq(h, ",") {
			if strings.EqualFold(strings.TrimSpace(p), pref) {
				return true
			}
		}
	}
	return false
}

// Status mappings. graphAlertStatus is the one place a Defender for Cloud
// status becomes a Graph one; the legacy API derives from it.
func graphAlertStatus(dfc string) string {
	switch dfc {
	case DfCInProgress:
		return "inProgress"
	case DfCDismissed, DfCResolved:
		return "resolved"
	}
	return "new"
}

// dfcStatusFor is the Defender for Cloud status a Graph status change sets.
func dfcStatusFor(graph string) string {
	switch graph {
	case "resolved":
		return DfCResolved
	case "inProgress":
		return DfCInProgress
	}
	return DfCActive
}

func legacyStatusFor(graph string) string {
	if graph == "new" {
		return "newAlert"
	}
	return graph
}

// Classification mappings between Graph and Sentinel.
func sentinelClassFor(graph string, closing bool) string {
	switch graph {
	case "truePositive":
		return "TruePositive"
	case "falsePositive":
		return "FalsePositive"
	case "informationalExpectedActivity":
		return "BenignPositive"
	}
	if closing {
		return "Undetermined"
	}
	return ""
}

func graphClassFor(sentinel string) string {
	switch sentinel {
	case "TruePositive":
		return "truePositive"
	case "FalsePositive":
		return "falsePositive"
	case "BenignPositive":
		return "informationalExpectedActivity"
	}
	return "unknown"
}

// sentinelReasonFor is the Sentinel classificationReason matching a Graph
// classification and determination.
func sentinelReasonFor(class, determination string) string {
	switch class {
	case "truePositive":
		return "SuspiciousActivity"
	case "informationalExpectedActivity":
		return "SuspiciousButExpected"
	case "falsePositive":
		if determination == "notEnoughDataToValidate" {
			return "InaccurateData"
		}
		return "IncorrectAlertLogic"
	}
	return ""
}

func graphDeterminationFor(sentinelReason string) string {
	switch sentinelReason {
	case "IncorrectAlertLogic":
		return "notMalicious"
	case "InaccurateData":
		return "notEnoughDataToValidate"
	case "SuspiciousButExpected":
		return "confirmedActivity"
	}
	return "unknown"
}

// Graph-only state, held in World.graph and guarded by World.mu.
type graphState struct {
	dfcSeen   int                            // Defender alerts already entered in log
	log       []string                       // every alerts_v2 id, oldest first; append-only
	dfcByID   map[string]string              // alerts_v2 id -> Defender for Cloud alert name
	own       map[string]*GraphAlert         // alerts of other service sources, by id
	notes     map[string]*graphNotes         // Graph-side annotations, by alerts_v2 id
	incidents map[string]*graphIncidentNotes // by Sentinel incident name
}

// graphNotes is what Graph holds about an alert beyond its source's state.
type graphNotes struct {
	assignedTo     string
	classification string
	determination  string
	comments       []GraphComment
	customDetails  map[string]any
	modified       time.Time
	// Legacy /security/alerts properties.
	legacyTags     []string
	legacyComments []string
	legacyClosed   time.Time
}

// graphIncidentNotes is what Graph holds about an incident beyond Sentinel.
type graphIncidentNotes struct {
	status        string // inProgress or redirected, which Sentinel has no status for
	determination string
	modified      time.Time
}

// GraphComment is an alertComment.
type GraphComment struct {
	Comment   string
	CreatedBy string
	Created   time.Time
}

// GraphAlert is an alerts_v2 alert of a service source other than
// Defender for Cloud (those are derived from DefenderAlert). It lives in
// Graph only: the simulated tenant has no Defender for Endpoint or
// Identity of its own.
type GraphAlert struct {
	ID              string
	ProviderAlertID string
	ServiceSource   string
	DetectionSource string
	DetectorID      string
	Title           string
	Description     string
	Recommended     string
	Category        string
	Severity        string // Graph spelling: low, medium, ...
	Status          string // new, inProgress, resolved
	MitreTechniques []string
	Created         time.Time
	FirstActivity   time.Time
	LastActivity    time.Time
	Resolved        time.Time
	Host            string
	Account         string
	IP              string
}

// GraphAlertSpec describes an alert of another service source to raise;
// zero fields are filled from that source's defaults.
type GraphAlertSpec struct {
	ServiceSource   string   `json:"serviceSource,omitempty"` // default microsoftDefenderForEndpoint
	DetectionSource string   `json:"detectionSource,omitempty"`
	Title           string   `json:"title,omitempty"`
	Description     string   `json:"description,omitempty"`
	Severity        string   `json:"severity,omitempty"`
	Category        string   `json:"category,omitempty"`
	Status          string   `json:"status,omitempty"` // new (default), inProgress, resolved
	MitreTechniques []string `json:"mitreTechniques,omitempty"`
	Host            string   `json:"host,omitempty"`
	Account         string   `json:"account,omitempty"`
	IP              string   `json:"ip,omitempty"`
}

type graphSourceKind struct {
	prefix, detection, title, desc, category, severity string
	techniques                                         []string
	host, account, ip                                  bool
}

// graphSources are the service sources an alert can be raised for, with
// real alert titles of each product.
var graphSources = map[string]graphSourceKind{
	"microsoftDefenderForEndpoint": {"da", "microsoftDefenderForEndpoint", "Suspicious PowerShell command line",
		"A suspicious PowerShell activity was observed on the machine. This activity could indicate a download cradle.", "Execution", "medium",
		[]string{"T1059.001"}, true, true, false},
	"microsoftDefenderForIdentity": {"aa", "microsoftDefenderForIdentity", "Suspected Brute Force attack (Kerberos, NTLM)",
		"Many authentication failures occurred using Kerberos or NTLM against one account from one source.", "CredentialAccess", "medium",
		[]string{"T1110"}, true, true, true},
	"microsoftDefenderForOffice365": {"fa", "microsoftDefenderForOffice365", "Email messages containing malicious URL removed after delivery",
		"Emails with a malicious URL were delivered and later removed by zero-hour auto purge.", "InitialAccess", "informational",
		[]string{"T1566.002"}, false, true, false},
	"microsoftDefenderForCloudApps": {"ca", "cloudAppSecurity", "Impossible travel activity",
		"A user signed in from two distant locations within a time shorter than the travel time between them.", "InitialAccess", "medium",
		[]string{"T1078"}, false, true, true},
	"azureAdIdentityProtection": {"ad", "azureAdIdentityProtection", "Unfamiliar sign-in properties",
		"A sign-in with properties not seen recently for the user was detected.", "InitialAccess", "low",
		[]string{"T1078"}, false, true, true},
	"microsoft365Defender": {"ra", "microsoft365Defender", "Suspicious URL clicked",
		"A user clicked a URL that was later found to be malicious.", "InitialAccess", "high",
		[]string{"T1566.002"}, true, true, false},
}

func (g *graphState) init() {
	if g.dfcByID == nil {
		g.dfcByID, g.own, g.notes, g.incidents = map[string]string{}, map[string]*GraphAlert{}, map[string]*graphNotes{}, map[string]*graphIncidentNotes{}
	}
}

// graphSync enters Defender alerts raised since the last call into the
// alerts_v2 log, keeping creation order across service sources. The
// caller holds w.mu.
func (w *World) graphSync() *graphState {
	g := &w.graph
	g.init()
	for ; g.dfcSeen < len(w.defenderOrder); g.dfcSeen++ {
		a := w.defender[w.defenderOrder[g.dfcSeen]]
		g.log = append(g.log, a.GraphAlertID)
		g.dfcByID[a.GraphAlertID] = a.Name
	}
	return g
}

func (g *graphState) note(id string) *graphNotes {
	n := g.notes[id]
	if n == nil {
		n = &graphNotes{}
		g.notes[id] = n
	}
	return n
}

func (g *graphState) incidentNote(name string) *graphIncidentNotes {
	n := g.incidents[name]
	if n == nil {
		n = &graphIncidentNotes{}
		g.incidents[name] = n
	}
	return n
}

// graphObserve keeps Graph-only incident state consistent with Sentinel:
// once Sentinel closes an incident, a Graph inProgress or redirected
// status no longer applies. It runs with w.mu held.
func (w *World) graphObserve(e Event) {
	if e.Kind != "incident.update" {
		return
	}
	if inc := w.incidents[e.ID]; inc != nil && inc.Status == IncidentClosed {
		if n := w.graph.incidents[e.ID]; n != nil {
			n.status = ""
		}
	}
}

// RaiseGraphAlert raises an alert of a service source other than Defender
// for Cloud (Defender for Endpoint, for Identity, ...). It appears in
// Graph alerts_v2 and the legacy alerts API only, with no incident.
func (w *World) RaiseGraphAlert(spec GraphAlertSpec) (GraphAlert, error) {
	src := or(spec.ServiceSource, "microsoftDefenderForEndpoint")
	if src == "microsoftDefenderForCloud" {
		return GraphAlert{}, fmt.Errorf("raise Defender for Cloud alerts with RaiseDefenderAlert (POST /sim/v1/defender/alerts) so that they reach Sentinel too: %w", ErrInvalidInput)
	}
	k, ok := graphSources[src]
	if !ok {
		return GraphAlert{}, fmt.Errorf("serviceSource %q: want one of %s: %w", src, strings.Join(slices.Sorted(maps.Keys(graphSources)), ", "), ErrInvalidInput)
	}
	sev, ok := graphEnum(graphSeverities, or(spec.Severity, k.severity))
	if !ok {
		return GraphAlert{}, fmt.Errorf("severity %q: %w", spec.Severity, ErrInvalidInput)
	}
	status, ok := graphEnum(graphAlertStatuses, or(spec.Status, "new"))
	if !ok || status == "unknown" || status == "unknownFutureValue" {
		return GraphAlert{}, fmt.Errorf("status %q: want new, inProgress or resolved: %w", spec.Status, ErrInvalidInput)
	}
	det, ok := graphEnum(graphDetectionSources, or(spec.DetectionSource, k.detection))
	if !ok {
		return GraphAlert{}, fmt.Errorf("detectionSource %q: %w", spec.DetectionSource, ErrInvalidInput)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	g := w.graphSync()
	now := w.now()
	pick := func(s []string) string { return s[w.rng.IntN(len(s))] }
	a := &GraphAlert{
		ServiceSource: src, DetectionSource: det, DetectorID: w.guid(),
		Title: or(spec.Title, k.title), Description: or(spec.Description, k.desc), Category: or(spec.Category, k.category),
		Recommended: "Review the activity and, if it is malicious, contain the affected user and device.",
		Severity:    sev, Status: status, MitreTechniques: slices.Clone(spec.MitreTechniques),
		Created: now, FirstActivity: now.Add(-time.Duration(1+w.rng.IntN(30)) * time.Minute), LastActivity: now,
		Host: spec.Host, Account: spec.Account, IP: spec.IP,
	}
	if a.MitreTechniques == nil {
		a.MitreTechniques = slices.Clone(k.techniques)
	}
	if a.Host == "" && k.host {
		a.Host = pick(simHosts)
	}
	if a.Account == "" && k.account {
		a.Account = pick(simAccounts)
	}
	if a.IP == "" && k.ip {
		a.IP = pick(simIPs)
	}
	if status == "resolved" {
		a.Resolved = now
	}
	// Ids as the products make them: a prefix, .NET ticks and a hash.
	for a.ID == "" || g.own[a.ID] != nil {
		a.ID = fmt.Sprintf("%s%d_%d", k.prefix, now.UnixNano()/100+621355968000000000, int32(w.rng.Uint32()))
	}
	a.ProviderAlertID = a.ID
	g.own[a.ID] = a
	g.log = append(g.log, a.ID)
	w.emit("graph.alert.raise", a.ID)
	return *a, nil
}

// GraphAlertByID returns a copy of an alert raised with RaiseGraphAlert.
func (w *World) GraphAlertByID(id string) (GraphAlert, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.graphSync().own[id]
	if !ok {
		return GraphAlert{}, false
	}
	return *a, true
}

// GraphAnnotations is what Graph holds about an alert beyond its source.
type GraphAnnotations struct {
	AssignedTo, Classification, Determination string
	Comments                                  []GraphComment
}

// GraphAlertAnnotations returns Graph's annotations of an alerts_v2 alert
// (of any service source), for tests.
func (w *World) GraphAlertAnnotations(id string) GraphAnnotations {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.graphSync().notes[id]
	if n == nil {
		return GraphAnnotations{}
	}
	return GraphAnnotations{AssignedTo: n.assignedTo, Classification: n.classification, Determination: n.determination, Comments: slices.Clone(n.comments)}
}

// graphThrottle is Graph's per-tenant request budget: budget requests in
// each window of one minute, the window starting at its first request.
type graphThrottle struct {
	mu     sync.Mutex
	budget int
	start  time.Time
	count  int
}

// admit counts a request; when the budget is spent it reports the seconds
// until the window resets.
func (t *graphThrottle) admit(now time.Time) (bool, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.start.IsZero() || !now.Before(t.start.Add(time.Minute)) || now.Before(t.start) {
		t.start, t.count = now, 0
	}
	if t.count >= t.budget {
		return false, max(1, int(math.Ceil(t.start.Add(time.Minute).Sub(now).Seconds())))
	}
	t.count++
	return true, 0
}

func (s *Simulator) graphRoutes() {
	th := &graphThrottle{budget: s.opt.GraphBudget}
	g := func(pattern, name string, h http.HandlerFunc) {
		s.handle(pattern, name, audGraph, s.graphGate(th, h))
	}
	p := graphSecurityPath
	g("GET "+p+"/alerts_v2", "graph.alerts_v2.list", s.graphAlertsV2List)
	g("GET "+p+"/alerts_v2/{id}", "graph.alerts_v2.get", s.graphAlertV2Get)
	g("PATCH "+p+"/alerts_v2/{id}", "graph.alerts_v2.update", s.graphAlertV2Update)
	g("POST "+p+"/alerts_v2/{id}/comments", "graph.alerts_v2.comments.create", s.graphAlertV2Comment)
	g("GET "+p+"/incidents", "graph.incidents.list", s.graphIncidentsList)
	g("GET "+p+"/incidents/{id}", "graph.incidents.get", s.graphIncidentGet)
	g("PATCH "+p+"/incidents/{id}", "graph.incidents.update", s.graphIncidentUpdate)
	g("POST "+p+"/incidents/{id}/comments", "graph.incidents.comments.create", s.graphIncidentComment)
	g("GET "+p+"/alerts", "graph.alerts.list", s.graphLegacyList)
	g("GET "+p+"/alerts/{id}", "graph.alerts.get", s.graphLegacyGet)
	g("PATCH "+p+"/alerts/{id}", "graph.alerts.update", s.graphLegacyUpdate)
	// Control API: an alert of another service source arrives.
	s.handle("POST /sim/v1/graph/alerts", "sim.graph.raise", "", s.simGraphRaise)
	s.world.Observe(s.world.graphObserve)
}

// graphGate adds Graph's request ids and enforces the per-minute budget,
// after authentication (Graph throttles per app and tenant).
func (s *Simulator) graphGate(th *graphThrottle, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rid := newGUID()
		w.Header().Set("request-id", rid)
		w.Header().Set("client-request-id", or(r.Header.Get("client-request-id"), rid))
		now := s.clock.Now()
		if ok, retry := th.admit(now); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(retry))
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]any{
				"code": "TooManyRequests",
				"innerError": map[string]any{
					"code": "429", "date": now.UTC().Format("2006-01-02T15:04:05"), "message": "Please retry after",
					"request-id": rid, "status": "429",
				},
				"message": "Please retry again later.",
			}})
			return
		}
		h(w, r)
	}
}

func (s *Simulator) simGraphRaise(w http.ResponseWriter, r *http.Request) {
	var spec GraphAlertSpec
	if err := decodeJSON(r, &spec); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON object: " + err.Error()})
		return
	}
	a, err := s.world.RaiseGraphAlert(spec)
	if err != nil {
		simError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": a.ID, "providerAlertId": a.ProviderAlertID, "serviceSource": a.ServiceSource})
}

// Responses.

// graphJSON writes a Graph success answer. Like Graph, it does not escape
// "&" in nextLinks as \u0026.
func (s *Simulator) graphJSON(w http.ResponseWriter, code int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.graphErr(w, http.StatusInternalServerError, "InternalServerError", "marshal")
		return
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(code)
	w.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func (s *Simulator) graphErr(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, graphError(errCode, msg, s.clock.Now()))
}

// graphFail answers a world error.
func (s *Simulator) graphFail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		s.graphErr(w, http.StatusNotFound, "NotFound", err.Error())
	case errors.Is(err, ErrInvalidInput):
		s.graphErr(w, http.StatusBadRequest, "BadRequest", err.Error())
	case errors.Is(err, ErrConflict):
		s.graphErr(w, http.StatusConflict, "Conflict", err.Error())
	default:
		s.graphErr(w, http.StatusInternalServerError, "InternalServerError", err.Error())
	}
}

func (s *Simulator) graphContext(frag string) string {
	return s.base() + "/graph/v1.0/$metadata#" + frag
}

func gtime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.0000000Z")
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// Alert views.

// graphAlertView is an alerts_v2 alert from either source, before
// rendering.
type graphAlertView struct {
	id, providerAlertID, incidentID                string
	status, severity, serviceSource, detection     string
	detectorID, title, desc, recommended, category string
	techniques                                     []string
	created, lastUpdate, firstAct, lastAct         time.Time
	resolved                                       time.Time
	classification, determination                  string
	evidence                                       []map[string]any
	notes                                          *graphNotes
	dfcName                                        string // for Defender for Cloud alerts
	resourceID                                     string
	host, account, ip                              string
}

// graphAlertLocked builds the view of one alert. The caller holds w.mu and
// has called graphSync.
func (s *Simulator) graphAlertLocked(id string) (*graphAlertView, bool) {
	w := s.world
	g := &w.graph
	n := g.notes[id]
	if n == nil {
		n = &graphNotes{}
	}
	if name, ok := g.dfcByID[id]; ok {
		return s.dfcAlertView(w.defender[name], n), true
	}
	a, ok := g.own[id]
	if !ok {
		return nil, false
	}
	v := &graphAlertView{
		id: a.ID, providerAlertID: a.ProviderAlertID, status: a.Status, severity: a.Severity, serviceSource: a.ServiceSource,
		detection: a.DetectionSource, detectorID: a.DetectorID, title: a.Title, desc: a.Description, recommended: a.Recommended,
		category: a.Category, techniques: a.MitreTechniques, created: a.Created, lastUpdate: latest(a.Created, a.Resolved, n.modified),
		firstAct: a.FirstActivity, lastAct: a.LastActivity, resolved: a.Resolved,
		classification: or(n.classification, "unknown"), determination: or(n.determination, "unknown"), notes: n,
		host: a.Host, account: a.Account, ip: a.IP,
	}
	if a.Host != "" {
		v.evidence = append(v.evidence, deviceEvidence(a.Created, a.Host, mdeDeviceID(a.Host), nil))
	}
	if a.Account != "" {
		v.evidence = append(v.evidence, userEvidence(a.Created, a.Account))
	}
	if a.IP != "" {
		v.evidence = append(v.evidence, ipEvidence(a.Created, a.IP))
	}
	return v, true
}

func (s *Simulator) dfcAlertView(a *DefenderAlert, n *graphNotes) *graphAlertView {
	w := s.world
	sev := strings.ToLower(a.Severity)
	if !slices.Contains(graphSeverities, sev) {
		sev = "unknown"
	}
	v := &graphAlertView{
		id: a.GraphAlertID, providerAlertID: a.Name, status: graphAlertStatus(a.Status), severity: sev,
		serviceSource: "microsoftDefenderForCloud", detection: "microsoftDefenderForCloud", detectorID: a.AlertType,
		title: a.DisplayName, desc: a.Description, recommended: strings.Join(a.RemediationSteps, "\n"), category: a.Intent,
		techniques: a.Techniques, created: a.TimeGenerated, lastUpdate: latest(a.TimeGenerated, a.ProcessingEndTime, n.modified),
		firstAct: a.StartTime, lastAct: a.EndTime, classification: n.classification, determination: n.determination, notes: n,
		dfcName: a.Name, resourceID: a.ResourceID,
	}
	if v.status == "resolved" {
		v.resolved = a.ProcessingEndTime
	}
	if inc := w.incidents[a.IncidentName]; inc != nil {
		v.incidentID = strconv.Itoa(inc.Number)
		// A classification given when the incident was closed in Sentinel
		// reaches its alerts, as the unified portal syncs it.
		if inc.Status == IncidentClosed {
			if v.classification == "" {
				v.classification = graphClassFor(inc.Classification)
			}
			if v.determination == "" {
				v.determination = graphDeterminationFor(inc.ClassificationReason)
			}
		}
	}
	v.classification, v.determination = or(v.classification, "unknown"), or(v.determination, "unknown")
	host := ""
	for _, e := range a.Entities {
		switch e["type"] {
		case "host":
			host, _ = e["hostName"].(string)
		}
	}
	for _, e := range a.Entities {
		str := func(k string) string { x, _ := e[k].(string); return x }
		switch e["type"] {
		case "azure-resource":
			v.evidence = append(v.evidence, azureResourceEvidence(a.TimeGenerated, str("resourceId")))
		case "host":
			v.host = host
			v.evidence = append(v.evidence, deviceEvidence(a.TimeGenerated, host, nil, map[string]any{
				"vmId": nilIfEmpty(str("omsAgentID")), "cloudProvider": "azure", "resourceId": str("azureID"), "subscriptionId": s.opt.SubscriptionID,
			}))
		case "ip":
			v.ip = str("address")
			v.evidence = append(v.evidence, ipEvidence(a.TimeGenerated, v.ip))
		case "account":
			v.account = str("name")
			v.evidence = append(v.evidence, userEvidence(a.TimeGenerated, v.account))
		case "process":
			v.evidence = append(v.evidence, processEvidence(a.TimeGenerated, a.StartTime, str("commandLine"), a.Name))
		}
	}
	return v
}

func mdeDeviceID(host string) any {
	h := fnv.New128a()
	h.Write([]byte(host))
	return fmt.Sprintf("%x", h.Sum(nil))[:32] + "00000000"
}

// Evidence, shaped as the alertEvidence subtypes of the v1.0 schema.
func graphEvidence(typ string, created time.Time, verdict string, roles []string, props map[string]any) map[string]any {
	m := map[string]any{
		"@odata.type": "#microsoft.graph.security." + typ, "createdDateTime": gtime(created), "verdict": verdict,
		"remediationStatus": "none", "remediationStatusDetails": nil, "roles": roles, "detailedRoles": []string{}, "tags": []string{},
	}
	maps.Copy(m, props)
	return m
}

var azureResourceTypes = map[string]string{
	"virtualMachines": "Virtual Machine", "storageAccounts": "Storage Account", "servers": "SQL Server",
	"managedClusters": "Kubernetes Service", "vaults": "Key Vault", "sites": "App Service",
}

func azureResourceEvidence(created time.Time, resourceID string) map[string]any {
	typ := path.Base(path.Dir(resourceID))
	return graphEvidence("azureResourceEvidence", created, "suspicious", []string{"attacked"}, map[string]any{
		"resourceId": resourceID, "resourceName": path.Base(resourceID), "resourceType": or(azureResourceTypes[typ], typ),
	})
}

func deviceEvidence(created time.Time, host string, mdeID any, vm map[string]any) map[string]any {
	var vmMeta any
	if vm != nil {
		vmMeta = vm
	}
	return graphEvidence("deviceEvidence", created, "suspicious", []string{"compromised"}, map[string]any{
		"firstSeenDateTime": gtime(created.Add(-30 * 24 * time.Hour)), "mdeDeviceId": mdeID, "azureAdDeviceId": nil,
		"deviceDnsName": host, "osPlatform": "Windows10", "osBuild": nil, "version": "Other", "healthStatus": "active",
		"riskScore": "medium", "rbacGroupId": 0, "rbacGroupName": nil, "onboardingStatus": "onboarded", "defenderAvStatus": "unknown",
		"ipInterfaces": []string{}, "loggedOnUsers": []any{}, "vmMetadata": vmMeta,
	})
}

func ipEvidence(created time.Time, ip string) map[string]any {
	return graphEvidence("ipEvidence", created, "suspicious", []string{"attacker"}, map[string]any{
		"ipAddress": ip, "countryLetterCode": nil,
	})
}

func userAccount(upn string) map[string]any {
	name, domain, _ := strings.Cut(upn, "@")
	return map[string]any{
		"accountName": name, "domainName": nilIfEmpty(domain), "userSid": nil, "azureAdUserId": nil,
		"userPrincipalName": nilIfEmpty(upn), "displayName": name,
	}
}

func userEvidence(created time.Time, upn string) map[string]any {
	return graphEvidence("userEvidence", created, "suspicious", []string{"compromised"}, map[string]any{"userAccount": userAccount(upn)})
}

func imageFile(fileName, filePath string) map[string]any {
	return map[string]any{
		"sha1": nil, "sha256": nil, "fileName": fileName, "filePath": filePath, "fileSize": nil,
		"filePublisher": "Microsoft Corporation", "signer": nil, "issuer": nil,
	}
}

func processEvidence(created, started time.Time, cmd, seed string) map[string]any {
	h := fnv.New32a()
	h.Write([]byte(seed))
	pid := 1000 + int(h.Sum32()%60000)
	exe, _, _ := strings.Cut(cmd, " ")
	return graphEvidence("processEvidence", created, "suspicious", []string{}, map[string]any{
		"processId": pid, "parentProcessId": pid - 4, "processCommandLine": cmd,
		"processCreationDateTime": gtime(started), "parentProcessCreationDateTime": gtime(started.Add(-time.Hour)),
		"detectionStatus": "detected", "mdeDeviceId": nil,
		"imageFile":              imageFile(exe, `C:\Windows\System32\WindowsPowerShell\v1.0`),
		"parentProcessImageFile": imageFile("cmd.exe", `C:\Windows\System32`),
		"userAccount":            map[string]any{"accountName": "SYSTEM", "domainName": "NT AUTHORITY", "userSid": "S-1-5-18", "azureAdUserId": nil, "userPrincipalName": nil, "displayName": "System"},
	})
}

func graphComments(cs []GraphComment) []map[string]any {
	out := make([]map[string]any, 0, len(cs))
	for _, c := range cs {
		out = append(out, map[string]any{"comment": c.Comment, "createdByDisplayName": c.CreatedBy, "createdDateTime": gtime(c.Created)})
	}
	return out
}

// renderAlertV2 renders a microsoft.graph.security.alert. serviceSource and
// detectionSource are unmasked; maskAlert hides evolvable members.
func (s *Simulator) renderAlertV2(v *graphAlertView) map[string]any {
	tid := s.opt.TenantID
	var incURL any
	if v.incidentID != "" {
		incURL = "https://security.microsoft.com/incidents/" + v.incidentID + "?tid=" + tid
	}
	techniques := v.techniques
	if techniques == nil {
		techniques = []string{}
	}
	evidence := v.evidence
	if evidence == nil {
		evidence = []map[string]any{}
	}
	m := map[string]any{
		"@odata.type": "#microsoft.graph.security.alert",
		"id":          v.id, "providerAlertId": v.providerAlertID, "incidentId": nilIfEmpty(v.incidentID),
		"status": v.status, "severity": v.severity, "classification": v.classification, "determination": v.determination,
		"serviceSource": v.serviceSource, "detectionSource": v.detection, "detectorId": v.detectorID, "tenantId": tid,
		"title": v.title, "description": v.desc, "recommendedActions": v.recommended, "category": v.category,
		"assignedTo":  nilIfEmpty(v.notes.assignedTo),
		"alertWebUrl": "https://security.microsoft.com/alerts/" + v.id + "?tid=" + tid, "incidentWebUrl": incURL,
		"actorDisplayName": nil, "threatDisplayName": nil, "threatFamilyName": nil, "mitreTechniques": techniques,
		"createdDateTime": gtime(v.created), "lastUpdateDateTime": gtime(v.lastUpdate), "resolvedDateTime": gtime(v.resolved),
		"firstActivityDateTime": gtime(v.firstAct), "lastActivityDateTime": gtime(v.lastAct),
		"comments": graphComments(v.notes.comments), "evidence": evidence, "systemTags": []string{},
	}
	// customDetails is a newer property of the schema; it is only sent
	// once a client has set it.
	if len(v.notes.customDetails) > 0 {
		m["customDetails"] = v.notes.customDetails
	}
	return m
}

func maskAlert(m map[string]any, include bool) {
	if include {
		return
	}
	if v, ok := m["serviceSource"].(string); ok {
		m["serviceSource"] = graphEvolvable(graphServiceSources, v, false)
	}
	if v, ok := m["detectionSource"].(string); ok {
		m["detectionSource"] = graphEvolvable(graphDetectionSources, v, false)
	}
}

// Legacy alerts (namespace microsoft.graph): the $filter keyword of each
// provider, as documented for List alerts.
func legacyProvider(serviceSource string) string {
	switch serviceSource {
	case "microsoftDefenderForCloud":
		return "ASC"
	case "microsoftDefenderForEndpoint":
		return "Microsoft Defender ATP"
	case "microsoftDefenderForIdentity":
		return "Azure Advanced Threat Protection"
	case "microsoftDefenderForCloudApps":
		return "MCAS"
	case "azureAdIdentityProtection":
		return "IPC"
	case "microsoftDefenderForOffice365":
		return "Office 365 Security and Compliance"
	}
	return "Microsoft 365 Defender"
}

func legacyID(v *graphAlertView) string { return or(v.dfcName, v.id) }

func (s *Simulator) renderLegacyAlert(v *graphAlertView) map[string]any {
	n := v.notes
	var feedback any
	switch v.classification {
	case "truePositive", "falsePositive":
		feedback = v.classification
	case "informationalExpectedActivity":
		feedback = "benignPositive"
	}
	closed := n.legacyClosed
	if closed.IsZero() {
		closed = v.resolved
	}
	var sub any
	if v.resourceID != "" {
		sub = s.opt.SubscriptionID
	}
	hostStates, userStates, network, resources := []any{}, []any{}, []any{}, []any{}
	if v.host != "" {
		hostStates = append(hostStates, map[string]any{
			"fqdn": v.host, "isAzureAdJoined": nil, "isAzureAdRegistered": nil, "isHybridAzureDomainJoined": nil,
			"netBiosName": strings.ToUpper(v.host), "os": nil, "privateIpAddress": nil, "publicIpAddress": nil, "riskScore": nil,
		})
	}
	if v.account != "" {
		name, domain, _ := strings.Cut(v.account, "@")
		userStates = append(userStates, map[string]any{
			"aadUserId": nil, "accountName": name, "domainName": nilIfEmpty(domain), "emailRole": "unknown", "isVpn": nil,
			"logonDateTime": nil, "logonId": nil, "logonIp": nil, "logonLocation": nil, "logonType": nil,
			"onPremisesSecurityIdentifier": nil, "riskScore": nil, "userAccountType": nil, "userPrincipalName": v.account,
		})
	}
	if v.ip != "" {
		network = append(network, map[string]any{
			"sourceAddress": v.ip, "sourcePort": nil, "destinationAddress": nil, "destinationPort": nil,
			"direction": "inbound", "protocol": nil, "riskScore": nil,
		})
	}
	if v.resourceID != "" {
		resources = append(resources, map[string]any{"resource": v.resourceID, "resourceType": "attacked"})
	}
	incidentIDs := []string{}
	if v.incidentID != "" {
		incidentIDs = append(incidentIDs, v.incidentID)
	}
	recommended := []string{}
	if v.recommended != "" {
		recommended = strings.Split(v.recommended, "\n")
	}
	providerVersion := any(nil)
	if v.dfcName != "" {
		providerVersion = "3"
	}
	return map[string]any{
		"id": legacyID(v), "activityGroupName": nil, "assignedTo": nilIfEmpty(n.assignedTo), "azureSubscriptionId": sub,
		"azureTenantId": s.opt.TenantID, "category": v.category, "closedDateTime": gtime(closed), "cloudAppStates": []any{},
		"comments": nonNil(n.legacyComments), "confidence": nil, "createdDateTime": gtime(v.created), "description": v.desc,
		"detectionIds": []string{}, "eventDateTime": gtime(v.firstAct), "feedback": feedback, "fileStates": []any{},
		"hostStates": hostStates, "incidentIds": incidentIDs, "lastModifiedDateTime": gtime(v.lastUpdate), "malwareStates": []any{},
		"networkConnections": network, "processes": []any{}, "recommendedActions": recommended, "registryKeyStates": []any{},
		"securityResources": resources, "severity": v.severity, "sourceMaterials": []string{"https://security.microsoft.com/alerts/" + v.id},
		"status": legacyStatusFor(v.status), "tags": nonNil(n.legacyTags), "title": v.title, "triggers": []any{}, "userStates": userStates,
		"vendorInformation":   map[string]any{"provider": legacyProvider(v.serviceSource), "providerVersion": providerVersion, "subProvider": nil, "vendor": "Microsoft"},
		"vulnerabilityStates": []any{},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Incident views.

type graphIncidentCtx struct {
	dfcBySentinel map[string]*DefenderAlert
}

// incidentCtxLocked indexes Defender alerts by their Sentinel alert, for
// $expand=alerts. The caller holds w.mu.
func (s *Simulator) incidentCtxLocked() graphIncidentCtx {
	m := make(map[string]*DefenderAlert, len(s.world.defender))
	for _, a := range s.world.defender {
		m[a.SentinelAlertID] = a
	}
	return graphIncidentCtx{dfcBySentinel: m}
}

func graphAssignee(o Owner) string {
	return or(o.UserPrincipalName, or(o.Email, o.AssignedTo))
}

// renderIncident renders a Sentinel incident as a
// microsoft.graph.security.incident. The caller holds w.mu.
func (s *Simulator) renderIncident(inc *Incident, expand bool, ctx graphIncidentCtx, includeEnums bool) map[string]any {
	g := s.world.graphSync()
	n := g.incidents[inc.Name]
	if n == nil {
		n = &graphIncidentNotes{}
	}
	id := strconv.Itoa(inc.Number)
	tid := s.opt.TenantID
	status := "active"
	if inc.Status == IncidentClosed {
		status = "resolved"
	} else if n.status != "" {
		status = n.status
	}
	sev := strings.ToLower(inc.Severity)
	if !slices.Contains(graphSeverities, sev) {
		sev = "unknown"
	}
	custom, system := []string{}, []string{}
	for _, l := range inc.Labels {
		name, _ := l["labelName"].(string)
		if t, _ := l["labelType"].(string); t == "AutoAssigned" || t == "System" {
			system = append(system, name)
		} else {
			custom = append(custom, name)
		}
	}
	// Comments carry both the alertComment properties of the v1.0 schema
	// (createdByDisplayName, createdDateTime) and those of the docs'
	// incident examples (createdBy, createdTime), so that a client written
	// against either reads them.
	comments := make([]map[string]any, 0, len(inc.Comments))
	for _, c := range inc.Comments {
		comments = append(comments, map[string]any{
			"comment": c.Message, "createdByDisplayName": c.Author, "createdDateTime": gtime(c.Created),
			"createdBy": c.Author, "createdTime": gtime(c.Created),
		})
	}
	m := map[string]any{
		"@odata.type": "#microsoft.graph.security.incident", "id": id,
		"incidentWebUrl":     "https://security.microsoft.com/incidents/" + id + "?tid=" + tid,
		"redirectIncidentId": nil, "tenantId": tid, "displayName": inc.Title,
		"createdDateTime": gtime(inc.Created), "lastUpdateDateTime": gtime(latest(inc.LastModified, n.modified)),
		"assignedTo": nilIfEmpty(graphAssignee(inc.Owner)), "classification": graphClassFor(inc.Classification),
		"determination": or(n.determination, graphDeterminationFor(inc.ClassificationReason)),
		"status":        status, "severity": sev, "customTags": custom, "comments": comments, "systemTags": system,
		"description": inc.Description,
	}
	if expand {
		alerts := []map[string]any{}
		for _, sid := range inc.AlertIDs {
			if a := ctx.dfcBySentinel[sid]; a != nil {
				if v, ok := s.graphAlertLocked(a.GraphAlertID); ok {
					am := s.renderAlertV2(v)
					maskAlert(am, includeEnums)
					alerts = append(alerts, am)
				}
			}
		}
		m["alerts"] = alerts
	}
	return m
}

// incidentByGraphIDLocked finds an incident by its Graph id, the
// incident number. The caller holds w.mu.
func (s *Simulator) incidentByGraphIDLocked(id string) *Incident {
	n, err := strconv.Atoi(id)
	if err != nil {
		return nil
	}
	for _, inc := range s.world.incidents {
		if inc.Number == n {
			return inc
		}
	}
	return nil
}

// OData $filter: a subset of the grammar, enough for these APIs.

type fieldKind int

const (
	fkString fieldKind = iota
	fkEnum
	fkTime
)

type filterField struct {
	kind  fieldKind
	enum  []string
	enumT string // the enum's type name, for messages
}

type filterSchema struct {
	typeName string
	fields   map[string]filterField
}

var (
	alertsV2Filter = filterSchema{"microsoft.graph.security.alert", map[string]filterField{
		"assignedTo": {kind: fkString}, "classification": {fkEnum, graphClassifications, "microsoft.graph.security.alertClassification"},
		"determination": {fkEnum, graphDeterminations, "microsoft.graph.security.alertDetermination"}, "createdDateTime": {kind: fkTime},
		"lastUpdateDateTime": {kind: fkTime}, "severity": {fkEnum, graphSeverities, "microsoft.graph.security.alertSeverity"},
		"serviceSource": {fkEnum, graphServiceSources, "microsoft.graph.security.serviceSource"},
		"status":        {fkEnum, graphAlertStatuses, "microsoft.graph.security.alertStatus"},
		// Not in the documented $filter list, accepted all the same.
		"detectionSource": {fkEnum, graphDetectionSources, "microsoft.graph.security.detectionSource"},
		"incidentId":      {kind: fkString}, "providerAlertId": {kind: fkString}, "id": {kind: fkString}, "title": {kind: fkString},
	}}
	incidentsFilter = filterSchema{"microsoft.graph.security.incident", map[string]filterField{
		"assignedTo": {kind: fkString}, "classification": {fkEnum, graphClassifications, "microsoft.graph.security.alertClassification"},
		"createdDateTime": {kind: fkTime}, "determination": {fkEnum, graphDeterminations, "microsoft.graph.security.alertDetermination"},
		"lastUpdateDateTime": {kind: fkTime}, "severity": {fkEnum, graphSeverities, "microsoft.graph.security.alertSeverity"},
		"status": {fkEnum, graphIncidentStatuses, "microsoft.graph.security.incidentStatus"},
		"id":     {kind: fkString}, "displayName": {kind: fkString},
	}}
	legacyFilter = filterSchema{"microsoft.graph.alert", map[string]filterField{
		"vendorInformation/provider": {kind: fkString}, "vendorInformation/vendor": {kind: fkString},
		"status":   {fkEnum, legacyAlertStatuses, "microsoft.graph.alertStatus"},
		"severity": {fkEnum, graphSeverities[:5], "microsoft.graph.alertSeverity"},
		"feedback": {fkEnum, legacyFeedbacks, "microsoft.graph.alertFeedback"},
		"category": {kind: fkString}, "assignedTo": {kind: fkString}, "azureSubscriptionId": {kind: fkString}, "title": {kind: fkString},
		"id": {kind: fkString}, "createdDateTime": {kind: fkTime}, "eventDateTime": {kind: fkTime}, "lastModifiedDateTime": {kind: fkTime},
	}}
)

type odataLit struct {
	null bool
	s    string
	t    time.Time
}

type odataFilter struct {
	op    string // and, or, not, cmp
	l, r  *odataFilter
	field string
	kind  fieldKind
	cmp   string // eq ne gt ge lt le in
	vals  []odataLit
}

type filterError struct{ msg string }

func (e *filterError) Error() string { return e.msg }

func odataTokens(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, string(c))
			i++
		case c == '\'':
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(s) {
					return nil, &filterError{fmt.Sprintf("Invalid filter clause: there is an unterminated string literal at position %d in '%s'.", i, s)}
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, "'"+b.String())
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t(),'", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

type filterParser struct {
	src    string
	toks   []string
	i      int
	schema filterSchema
}

func parseODataFilter(src string, schema filterSchema) (*odataFilter, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	toks, err := odataTokens(src)
	if err != nil {
		return nil, err
	}
	p := &filterParser{src: src, toks: toks, schema: schema}
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, p.syntax()
	}
	return f, nil
}

func (p *filterParser) syntax() error {
	return &filterError{fmt.Sprintf("Invalid filter clause: syntax error at token %d in '%s'.", p.i+1, p.src)}
}

func (p *filterParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *filterParser) next() string {
	t := p.peek()
	p.i++
	return t
}

func (p *filterParser) or() (*odataFilter, error) {
	l, err := p.and()
	for err == nil && strings.EqualFold(p.peek(), "or") {
		p.next()
		var r *odataFilter
		if r, err = p.and(); err == nil {
			l = &odataFilter{op: "or", l: l, r: r}
		}
	}
	return l, err
}

func (p *filterParser) and() (*odataFilter, error) {
	l, err := p.unary()
	for err == nil && strings.EqualFold(p.peek(), "and") {
		p.next()
		var r *odataFilter
		if r, err = p.unary(); err == nil {
			l = &odataFilter{op: "and", l: l, r: r}
		}
	}
	return l, err
}

func (p *filterParser) unary() (*odataFilter, error) {
	switch t := p.peek(); {
	case strings.EqualFold(t, "not"):
		p.next()
		f, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &odataFilter{op: "not", l: f}, nil
	case t == "(":
		p.next()
		f, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, p.syntax()
		}
		return f, nil
	}
	return p.comparison()
}

func (p *filterParser) comparison() (*odataFilter, error) {
	field := p.next()
	if field == "" || strings.HasPrefix(field, "'") || field == "(" || field == ")" || field == "," {
		return nil, p.syntax()
	}
	spec, ok := p.schema.fields[field]
	if !ok {
		return nil, &filterError{fmt.Sprintf("Invalid filter clause: Could not find a property named '%s' on type '%s'.", field, p.schema.typeName)}
	}
	op := strings.ToLower(p.next())
	f := &odataFilter{op: "cmp", field: field, kind: spec.kind, cmp: op}
	switch op {
	case "eq", "ne":
	case "gt", "ge", "lt", "le":
		if spec.kind != fkTime {
			return nil, &filterError{fmt.Sprintf("Invalid filter clause: the operator '%s' is not supported for property '%s'.", op, field)}
		}
	case "in":
		if p.next() != "(" {
			return nil, p.syntax()
		}
		for {
			v, err := p.literal(spec)
			if err != nil {
				return nil, err
			}
			f.vals = append(f.vals, v)
			if t := p.next(); t == ")" {
				return f, nil
			} else if t != "," {
				return nil, p.syntax()
			}
		}
	default:
		return nil, p.syntax()
	}
	v, err := p.literal(spec)
	if err != nil {
		return nil, err
	}
	if v.null && op != "eq" && op != "ne" {
		return nil, p.syntax()
	}
	f.vals = []odataLit{v}
	return f, nil
}

func (p *filterParser) literal(spec filterField) (odataLit, error) {
	t := p.next()
	if strings.EqualFold(t, "null") {
		return odataLit{null: true}, nil
	}
	if t == "" || t == "(" || t == ")" || t == "," {
		return odataLit{}, p.syntax()
	}
	quoted := strings.HasPrefix(t, "'")
	val := strings.TrimPrefix(t, "'")
	switch spec.kind {
	case fkTime:
		tm, err := time.Parse(time.RFC3339Nano, val)
		if err != nil {
			return odataLit{}, &filterError{fmt.Sprintf("Invalid filter clause: '%s' is not a valid DateTimeOffset.", val)}
		}
		return odataLit{t: tm}, nil
	case fkEnum:
		m, ok := graphEnum(spec.enum, val)
		if !quoted || !ok {
			return odataLit{}, &filterError{fmt.Sprintf("Invalid filter clause: the string '%s' is not a valid enumeration type constant of '%s'.", val, spec.enumT)}
		}
		return odataLit{s: m}, nil
	}
	if !quoted {
		return odataLit{}, &filterError{fmt.Sprintf("Invalid filter clause: '%s' is not a string literal.", val)}
	}
	return odataLit{s: val}, nil
}

func lookupPath(m map[string]any, field string) any {
	var cur any = m
	for part := range strings.SplitSeq(field, "/") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[part]
	}
	return cur
}

func (f *odataFilter) match(m map[string]any) bool {
	if f == nil {
		return true
	}
	switch f.op {
	case "and":
		return f.l.match(m) && f.r.match(m)
	case "or":
		return f.l.match(m) || f.r.match(m)
	case "not":
		return !f.l.match(m)
	}
	v := lookupPath(m, f.field)
	s, _ := v.(string)
	isNull := v == nil
	one := func(lit odataLit) bool {
		if lit.null {
			return isNull
		}
		if isNull {
			return false
		}
		if f.kind == fkTime {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return false
			}
			switch f.cmp {
			case "gt":
				return t.After(lit.t)
			case "ge":
				return !t.Before(lit.t)
			case "lt":
				return t.Before(lit.t)
			case "le":
				return !t.After(lit.t)
			}
			return t.Equal(lit.t)
		}
		return strings.EqualFold(s, lit.s)
	}
	switch f.cmp {
	case "ne":
		return !one(f.vals[0])
	case "in":
		return slices.ContainsFunc(f.vals, one)
	}
	return one(f.vals[0])
}

// Paging: the skiptoken is a position in an append-only log, and pages go
// from the newest entry down, so new arrivals never shift a page a client
// is walking.

type graphPaging struct {
	top, skip int
	after     int // the log position to continue below; -1 for the first page
	count     bool
}

func parseGraphPaging(q url.Values, pageSize int) (graphPaging, error) {
	pg := graphPaging{top: pageSize, after: -1}
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return pg, fmt.Errorf("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", v)
		}
		pg.top = min(n, pageSize)
	}
	if v := q.Get("$skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return pg, fmt.Errorf("Invalid value '%s' for $skip query option found. The $skip query option requires a non-negative integer value.", v)
		}
		pg.skip = n
	}
	if v := q.Get("$skiptoken"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "pos:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "pos:") || n < 0 {
			return pg, fmt.Errorf("The skip token '%s' is not valid.", v)
		}
		pg.after = n
	}
	if v := q.Get("$count"); v != "" {
		pg.count = strings.EqualFold(v, "true")
	}
	return pg, nil
}

type graphItem struct {
	pos int
	obj map[string]any
}

// odataQuery encodes a query as Graph writes nextLinks: "$" kept, spaces
// as %20.
func odataQuery(q url.Values) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(strings.ReplaceAll(url.QueryEscape(k), "%24", "$"))
			b.WriteByte('=')
			b.WriteString(strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		}
	}
	return b.String()
}

// graphList answers a collection: items newest first, filtered, paged.
func (s *Simulator) graphList(w http.ResponseWriter, r *http.Request, items []graphItem, f *odataFilter, pg graphPaging, ctx string, post func(map[string]any)) {
	var matched []graphItem
	total := 0
	for _, it := range items {
		if !f.match(it.obj) {
			continue
		}
		total++
		if pg.after >= 0 && it.pos >= pg.after {
			continue
		}
		matched = append(matched, it)
	}
	if pg.after < 0 && pg.skip > 0 {
		matched = matched[min(pg.skip, len(matched)):]
	}
	page := matched[:min(pg.top, len(matched))]
	value := make([]map[string]any, 0, len(page))
	for _, it := range page {
		if post != nil {
			post(it.obj)
		}
		value = append(value, it.obj)
	}
	body := map[string]any{"@odata.context": ctx, "value": value}
	if pg.count {
		body["@odata.count"] = total
	}
	if len(page) > 0 && len(matched) > len(page) {
		q := r.URL.Query()
		q.Del("$skip")
		q.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte("pos:"+strconv.Itoa(page[len(page)-1].pos))))
		body["@odata.nextLink"] = s.base() + r.URL.Path + "?" + odataQuery(q)
	}
	s.graphJSON(w, http.StatusOK, body)
}

func (s *Simulator) graphBadQuery(w http.ResponseWriter, err error) {
	s.graphErr(w, http.StatusBadRequest, "BadRequest", err.Error())
}

// Request bodies.

// graphBody reads a JSON object and refuses properties the type does not
// have, or that cannot be updated, as Graph does.
func (s *Simulator) graphBody(w http.ResponseWriter, r *http.Request, typeName string, updatable, readOnly []string) (map[string]json.RawMessage, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
	if err != nil {
		s.graphErr(w, http.StatusBadRequest, "BadRequest", "Could not read the request body.")
		return nil, false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		s.graphErr(w, http.StatusBadRequest, "BadRequest", "Empty Payload. JSON content expected.")
		return nil, false
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(b, &body); err != nil || body == nil {
		s.graphErr(w, http.StatusBadRequest, "BadRequest", "Invalid JSON. A JSON object is expected in the request body.")
		return nil, false
	}
	for _, k := range slices.Sorted(maps.Keys(body)) {
		switch {
		case k == "@odata.type":
			var t string
			json.Unmarshal(body[k], &t)
			if strings.TrimPrefix(t, "#") != typeName {
				s.graphErr(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("A type named '%s' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.", t))
				return nil, false
			}
		case strings.HasPrefix(k, "@"), slices.Contains(updatable, k):
		case slices.Contains(readOnly, k):
			s.graphErr(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("The property '%s' is read-only and cannot be updated.", k))
			return nil, false
		default:
			s.graphErr(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", k, typeName))
			return nil, false
		}
	}
	return body, true
}

// bodyEnum reads an enum property; absent gives nil.
func bodyEnum(body map[string]json.RawMessage, key string, members []string, typeName string, allowed ...string) (*string, error) {
	raw, ok := body[key]
	if !ok {
		return nil, nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("Cannot convert a primitive value to the expected type '%s' for property '%s'.", typeName, key)
	}
	m, ok := graphEnum(members, v)
	if ok && len(allowed) > 0 && !slices.Contains(allowed, m) {
		ok = false
	}
	if !ok {
		return nil, fmt.Errorf("The value '%s' is not valid for property '%s' of enum type '%s'.", v, key, typeName)
	}
	return &m, nil
}

// bodyString reads a nullable string; set reports presence.
func bodyString(body map[string]json.RawMessage, key string) (v string, set bool, err error) {
	raw, ok := body[key]
	if !ok {
		return "", false, nil
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		return "", true, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false, fmt.Errorf("Cannot convert the value of property '%s' to 'Edm.String'.", key)
	}
	return v, true, nil
}

func bodyStrings(body map[string]json.RawMessage, key string) (v []string, set bool, err error) {
	raw, ok := body[key]
	if !ok {
		return nil, false, nil
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		return []string{}, true, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false, fmt.Errorf("Cannot convert the value of property '%s' to 'Collection(Edm.String)'.", key)
	}
	return nonNil(v), true, nil
}

// alerts_v2.

var (
	alertV2Updatable = []string{"status", "classification", "determination", "assignedTo", "customDetails"}
	alertV2ReadOnly  = []string{"id", "providerAlertId", "incidentId", "severity", "serviceSource", "detectionSource", "detectorId",
		"tenantId", "title", "description", "recommendedActions", "category", "alertWebUrl", "incidentWebUrl", "actorDisplayName",
		"threatDisplayName", "threatFamilyName", "mitreTechniques", "createdDateTime", "lastUpdateDateTime", "resolvedDateTime",
		"firstActivityDateTime", "lastActivityDateTime", "comments", "evidence", "systemTags"}
)

func (s *Simulator) graphAlertsV2List(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := parseODataFilter(q.Get("$filter"), alertsV2Filter)
	if err != nil {
		s.graphBadQuery(w, err)
		return
	}
	// The page size is the documented maximum for alerts_v2.
	pg, err := parseGraphPaging(q, 2000)
	if err != nil {
		s.graphBadQuery(w, err)
		return
	}
	s.world.Lock()
	g := s.world.graphSync()
	items := make([]graphItem, 0, len(g.log))
	for i := len(g.log) - 1; i >= 0; i-- {
		if v, ok := s.graphAlertLocked(g.log[i]); ok {
			items = append(items, graphItem{i, s.renderAlertV2(v)})
		}
	}
	s.world.Unlock()
	include := preferUnknownEnums(r)
	s.graphList(w, r, items, f, pg, s.graphContext("security/alerts_v2"), func(m map[string]any) { maskAlert(m, include) })
}

// alertV2 renders one alert for a single-entity answer.
func (s *Simulator) alertV2(id string, include bool) (map[string]any, bool) {
	s.world.Lock()
	defer s.world.Unlock()
	s.world.graphSync()
	v, ok := s.graphAlertLocked(id)
	if !ok {
		return nil, false
	}
	m := s.renderAlertV2(v)
	maskAlert(m, include)
	m["@odata.context"] = s.graphContext("security/alerts_v2/$entity")
	return m, true
}

func (s *Simulator) graphAlertNotFound(w http.ResponseWriter, id string) {
	s.graphErr(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Alert with id '%s' was not found.", id))
}

func (s *Simulator) graphAlertV2Get(w http.ResponseWriter, r *http.Request) {
	m, ok := s.alertV2(r.PathValue("id"), preferUnknownEnums(r))
	if !ok {
		s.graphAlertNotFound(w, r.PathValue("id"))
		return
	}
	s.graphJSON(w, http.StatusOK, m)
}

// graphAlertUpdate is a change to an alert, through alerts_v2 or the
// legacy API.
type graphAlertUpdate struct {
	status, classification, determination *string
	assignedTo                            *string
	customDetails                         map[string]any
	customSet                             bool
	legacyTags, legacyComments            []string
	legacyClosed                          *time.Time
}

// applyGraphAlertUpdate changes an alert. A status change of a Defender for
// Cloud alert goes through World.SetDefenderStatus, so that it reaches
// Sentinel exactly as a change made in Defender for Cloud does.
func (s *Simulator) applyGraphAlertUpdate(id string, u graphAlertUpdate) error {
	w := s.world
	w.Lock()
	g := w.graphSync()
	name, isDfC := g.dfcByID[id]
	_, isOwn := g.own[id]
	current := ""
	if isDfC {
		current = graphAlertStatus(w.defender[name].Status)
	}
	w.Unlock()
	if !isDfC && !isOwn {
		return fmt.Errorf("alert %s: %w", id, ErrNotFound)
	}
	if u.status != nil && isDfC && *u.status != current {
		if _, err := w.SetDefenderStatus(name, dfcStatusFor(*u.status)); err != nil {
			return err
		}
	}
	w.Lock()
	defer w.Unlock()
	now := w.now()
	if a := g.own[id]; a != nil && u.status != nil && *u.status != a.Status {
		a.Status = *u.status
		a.Resolved = time.Time{}
		if a.Status == "resolved" {
			a.Resolved = now
		}
	}
	n := g.note(id)
	if u.classification != nil {
		n.classification = *u.classification
	}
	if u.determination != nil {
		n.determination = *u.determination
	}
	if u.assignedTo != nil {
		n.assignedTo = *u.assignedTo
	}
	if u.customSet {
		n.customDetails = u.customDetails
	}
	if u.legacyTags != nil {
		n.legacyTags = u.legacyTags
	}
	if u.legacyComments != nil {
		n.legacyComments = u.legacyComments
	}
	if u.legacyClosed != nil {
		n.legacyClosed = *u.legacyClosed
	}
	n.modified = now
	w.emit("graph.alert.update", id)
	return nil
}

func (s *Simulator) graphAlertV2Update(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, ok := s.graphBody(w, r, "microsoft.graph.security.alert", alertV2Updatable, alertV2ReadOnly)
	if !ok {
		return
	}
	var u graphAlertUpdate
	var err error
	fail := func(err error) { s.graphErr(w, http.StatusBadRequest, "BadRequest", err.Error()) }
	if u.status, err = bodyEnum(body, "status", graphAlertStatuses, "microsoft.graph.security.alertStatus", "new", "inProgress", "resolved"); err != nil {
		fail(err)
		return
	}
	if u.classification, err = bodyEnum(body, "classification", graphClassifications, "microsoft.graph.security.alertClassification", graphClassifications[:4]...); err != nil {
		fail(err)
		return
	}
	if u.determination, err = bodyEnum(body, "determination", graphDeterminations, "microsoft.graph.security.alertDetermination", graphDeterminations[:15]...); err != nil {
		fail(err)
		return
	}
	if v, set, err := bodyString(body, "assignedTo"); err != nil {
		fail(err)
		return
	} else if set {
		u.assignedTo = &v
	}
	if raw, ok := body["customDetails"]; ok {
		u.customSet = true
		if err := json.Unmarshal(raw, &u.customDetails); err != nil {
			fail(errors.New("Cannot convert the value of property 'customDetails' to 'microsoft.graph.Dictionary'."))
			return
		}
	}
	if err := s.applyGraphAlertUpdate(id, u); err != nil {
		if errors.Is(err, ErrNotFound) {
			s.graphAlertNotFound(w, id)
			return
		}
		s.graphFail(w, err)
		return
	}
	m, _ := s.alertV2(id, preferUnknownEnums(r))
	s.graphJSON(w, http.StatusOK, m)
}

// readComment reads an alertComment body.
func (s *Simulator) readComment(w http.ResponseWriter, r *http.Request) (string, bool) {
	body, ok := s.graphBody(w, r, "microsoft.graph.security.alertComment", []string{"comment"}, []string{"createdByDisplayName", "createdDateTime"})
	if !ok {
		return "", false
	}
	c, _, err := bodyString(body, "comment")
	if err != nil || strings.TrimSpace(c) == "" {
		s.graphErr(w, http.StatusBadRequest, "BadRequest", "The comment property is required and cannot be empty.")
		return "", false
	}
	return c, true
}

// graphActor is who a comment made through the API is by: the app.
func (s *Simulator) graphActor() string { return s.opt.ClientID }

func (s *Simulator) graphAlertV2Comment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := s.readComment(w, r)
	if !ok {
		return
	}
	wd := s.world
	wd.Lock()
	g := wd.graphSync()
	if _, ok := s.graphAlertLocked(id); !ok {
		wd.Unlock()
		s.graphAlertNotFound(w, id)
		return
	}
	n := g.note(id)
	now := wd.now()
	n.comments = append(n.comments, GraphComment{Comment: c, CreatedBy: s.graphActor(), Created: now})
	n.modified = now
	wd.emit("graph.alert.update", id)
	comments := graphComments(n.comments)
	wd.Unlock()
	s.graphJSON(w, http.StatusOK, map[string]any{
		"@odata.context": s.graphContext("security/alerts_v2('" + id + "')/comments"), "value": comments,
	})
}

// incidents.

var (
	incidentUpdatable = []string{"status", "classification", "determination", "assignedTo", "customTags"}
	incidentReadOnly  = []string{"id", "incidentWebUrl", "redirectIncidentId", "tenantId", "displayName", "createdDateTime",
		"lastUpdateDateTime", "severity", "comments", "systemTags", "description", "alerts"}
)

func parseExpand(q url.Values) (bool, error) {
	v := strings.TrimSpace(q.Get("$expand"))
	switch {
	case v == "":
		return false, nil
	case strings.EqualFold(v, "alerts"):
		return true, nil
	}
	return false, fmt.Errorf("Could not find a property named '%s' on type 'microsoft.graph.security.incident'.", v)
}

func (s *Simulator) graphIncidentsList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := parseODataFilter(q.Get("$filter"), incidentsFilter)
	if err != nil {
		s.graphBadQuery(w, err)
		return
	}
	pg, err := parseGraphPaging(q, 50)
	if err != nil {
		s.graphBadQuery(w, err)
		return
	}
	expand, err := parseExpand(q)
	if err != nil {
		s.graphBadQuery(w, err)
		return
	}
	include := preferUnknownEnums(r)
	wd := s.world
	wd.Lock()
	var ctx graphIncidentCtx
	if expand {
		ctx = s.incidentCtxLocked()
	}
	items := make([]graphItem, 0, len(wd.incidentOrder))
	for i := len(wd.incidentOrder) - 1; i >= 0; i-- {
		items = append(items, graphItem{i, s.renderIncident(wd.incidents[wd.incidentOrder[i]], expand, ctx, include)})
	}
	wd.Unlock()
	frag := "security/incidents"
	if expand {
		frag += "(alerts())"
	}
	s.graphList(w, r, items, f, pg, s.graphContext(frag), nil)
}

func (s *Simulator) incidentEntity(id string, expand, include bool) (map[string]any, bool) {
	wd := s.world
	wd.Lock()
	defer wd.Unlock()
	inc := s.incidentByGraphIDLocked(id)
	if inc == nil {
		return nil, false
	}
	var ctx graphIncidentCtx
	if expand {
		ctx = s.incidentCtxLocked()
	}
	m := s.renderIncident(inc, expand, ctx, include)
	m["@odata.context"] = s.graphContext("security/incidents/$entity")
	return m, true
}

func (s *Simulator) graphIncidentNotFound(w http.ResponseWriter, id string) {
	s.graphErr(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Incident with id '%s' was not found.", id))
}

func (s *Simulator) graphIncidentGet(w http.ResponseWriter, r *http.Request) {
	expand, err := parseExpand(r.URL.Query())
	if err != nil {
		s.graphBadQuery(w, err)
		return
	}
	m, ok := s.incidentEntity(r.PathValue("id"), expand, preferUnknownEnums(r))
	if !ok {
		s.graphIncidentNotFound(w, r.PathValue("id"))
		return
	}
	s.graphJSON(w, http.StatusOK, m)
}

type graphIncidentUpdate struct {
	status, classification, determination *string
	assignedTo                            *string
	customTags                            []string
}

// applyGraphIncidentUpdate changes the Sentinel incident behind a Graph
// incident through World.UpdateIncident (so closing it resolves its alerts
// as closing it in Sentinel does) and keeps what Sentinel cannot hold in
// Graph.
func (s *Simulator) applyGraphIncidentUpdate(name string, u graphIncidentUpdate) error {
	w := s.world
	for attempt := 0; ; attempt++ {
		inc, ok := w.IncidentByName(name)
		if !ok {
			return fmt.Errorf("incident %s: %w", name, ErrNotFound)
		}
		w.Lock()
		det := "unknown"
		if n := w.graphSync().incidents[name]; n != nil && n.determination != "" {
			det = n.determination
		}
		w.Unlock()
		if u.determination != nil {
			det = *u.determination
		}
		up := IncidentUpdate{Title: inc.Title, Description: inc.Description, Severity: inc.Severity, Status: inc.Status,
			Classification: inc.Classification, ClassificationReason: inc.ClassificationReason, ClassificationComment: inc.ClassificationComment}
		if u.status != nil {
			switch *u.status {
			case "resolved":
				up.Status = IncidentClosed
			case "active":
				if inc.Status == IncidentClosed {
					up.Status = IncidentActive
				}
			case "inProgress":
				up.Status = IncidentActive
			}
		}
		closing := up.Status == IncidentClosed
		class := graphClassFor(inc.Classification)
		if u.classification != nil {
			class = *u.classification
		}
		if u.classification != nil || u.determination != nil || (closing && inc.Status != IncidentClosed) {
			up.Classification = sentinelClassFor(class, closing)
			up.ClassificationReason = sentinelReasonFor(class, det)
		}
		changed := up.Status != inc.Status || up.Classification != inc.Classification || up.ClassificationReason != inc.ClassificationReason
		if u.assignedTo != nil {
			o := Owner{}
			if v := *u.assignedTo; v != "" {
				o = Owner{AssignedTo: v, OwnerType: "User"}
				if strings.Contains(v, "@") {
					o.Email, o.UserPrincipalName = v, v
				}
			}
			up.Owner = &o
			changed = changed || o != inc.Owner
		}
		if u.customTags != nil {
			labels := []map[string]any{}
			for _, l := range inc.Labels {
				if t, _ := l["labelType"].(string); t == "AutoAssigned" || t == "System" {
					labels = append(labels, l)
				}
			}
			for _, t := range u.customTags {
				labels = append(labels, map[string]any{"labelName": t, "labelType": "User"})
			}
			up.Labels = labels
			changed = true
		}
		if !changed {
			break
		}
		_, _, err := w.UpdateIncident(name, inc.ETag, up)
		if errors.Is(err, ErrConflict) && attempt < 5 {
			continue // a concurrent change: apply to the new version
		}
		if err != nil {
			return err
		}
		break
	}
	w.Lock()
	defer w.Unlock()
	g := w.graphSync()
	n := g.incidentNote(name)
	if u.determination != nil {
		n.determination = *u.determination
	}
	if u.status != nil {
		switch *u.status {
		case "inProgress", "redirected":
			n.status = *u.status
		default:
			n.status = ""
		}
	}
	now := w.now()
	n.modified = now
	// As in the unified portal, an incident's classification and
	// determination apply to its alerts.
	if inc := w.incidents[name]; inc != nil && (u.classification != nil || u.determination != nil) {
		for _, sid := range inc.AlertIDs {
			for _, a := range w.defender {
				if a.SentinelAlertID != sid {
					continue
				}
				an := g.note(a.GraphAlertID)
				if u.classification != nil {
					an.classification = *u.classification
				}
				if u.determination != nil {
					an.determination = *u.determination
				}
				an.modified = now
			}
		}
	}
	w.emit("graph.incident.update", name)
	return nil
}

func (s *Simulator) incidentName(id string) (string, bool) {
	s.world.Lock()
	defer s.world.Unlock()
	if inc := s.incidentByGraphIDLocked(id); inc != nil {
		return inc.Name, true
	}
	return "", false
}

func (s *Simulator) graphIncidentUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, ok := s.graphBody(w, r, "microsoft.graph.security.incident", incidentUpdatable, incidentReadOnly)
	if !ok {
		return
	}
	var u graphIncidentUpdate
	var err error
	fail := func(err error) { s.graphErr(w, http.StatusBadRequest, "BadRequest", err.Error()) }
	if u.status, err = bodyEnum(body, "status", graphIncidentStatuses, "microsoft.graph.security.incidentStatus", "active", "resolved", "inProgress", "redirected"); err != nil {
		fail(err)
		return
	}
	if u.classification, err = bodyEnum(body, "classification", graphClassifications, "microsoft.graph.security.alertClassification", graphClassifications[:4]...); err != nil {
		fail(err)
		return
	}
	if u.determination, err = bodyEnum(body, "determination", graphDeterminations, "microsoft.graph.security.alertDetermination", graphDeterminations[:15]...); err != nil {
		fail(err)
		return
	}
	if v, set, err := bodyString(body, "assignedTo"); err != nil {
		fail(err)
		return
	} else if set {
		u.assignedTo = &v
	}
	if v, set, err := bodyStrings(body, "customTags"); err != nil {
		fail(err)
		return
	} else if set {
		u.customTags = v
	}
	name, ok := s.incidentName(id)
	if !ok {
		s.graphIncidentNotFound(w, id)
		return
	}
	if err := s.applyGraphIncidentUpdate(name, u); err != nil {
		s.graphFail(w, err)
		return
	}
	m, _ := s.incidentEntity(id, false, preferUnknownEnums(r))
	s.graphJSON(w, http.StatusOK, m)
}

func (s *Simulator) graphIncidentComment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := s.readComment(w, r)
	if !ok {
		return
	}
	name, ok := s.incidentName(id)
	if !ok {
		s.graphIncidentNotFound(w, id)
		return
	}
	wd := s.world
	var comments []map[string]any
	err := wd.WithIncident(name, func(inc *Incident) (bool, error) {
		// The lock is held: the world's generators are used directly.
		inc.Comments = append(inc.Comments, Comment{Name: wd.guid(), Message: c, Author: s.graphActor(), Created: wd.now(), ETag: wd.etag()})
		for _, cm := range inc.Comments {
			comments = append(comments, map[string]any{"comment": cm.Message, "createdByDisplayName": cm.Author, "createdDateTime": gtime(cm.Created)})
		}
		return true, nil
	})
	if err != nil {
		s.graphFail(w, err)
		return
	}
	s.graphJSON(w, http.StatusOK, map[string]any{
		"@odata.context": s.graphContext("security/incidents('" + id + "')/comments"), "value": comments,
	})
}

// Legacy /security/alerts.

var (
	legacyUpdatable = []string{"assignedTo", "closedDateTime", "comments", "feedback", "status", "tags", "vendorInformation"}
	legacyReadOnly  = []string{"id", "activityGroupName", "azureSubscriptionId", "azureTenantId", "category", "cloudAppStates",
		"confidence", "createdDateTime", "description", "detectionIds", "eventDateTime", "fileStates", "hostStates", "incidentIds",
		"lastModifiedDateTime", "malwareStates", "networkConnections", "processes", "recommendedActions", "registryKeyStates",
		"securityResources", "severity", "sourceMaterials", "title", "triggers", "userStates", "vulnerabilityStates"}
)

func (s *Simulator) graphLegacyList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := parseODataFilter(q.Get("$filter"), legacyFilter)
	if err != nil {
		s.graphBadQuery(w, err)
		return
	}
	// $top is limited to 1000 alerts.
	pg, err := parseGraphPaging(q, 1000)
	if err != nil {
		s.graphBadQuery(w, err)
		return
	}
	s.world.Lock()
	g := s.world.graphSync()
	items := make([]graphItem, 0, len(g.log))
	for i := len(g.log) - 1; i >= 0; i-- {
		if v, ok := s.graphAlertLocked(g.log[i]); ok {
			items = append(items, graphItem{i, s.renderLegacyAlert(v)})
		}
	}
	s.world.Unlock()
	s.graphList(w, r, items, f, pg, s.graphContext("security/alerts"), nil)
}

// legacyGraphID maps a legacy alert id (the provider's own id: the
// Defender for Cloud alert name) to its alerts_v2 id. The caller holds w.mu.
func (s *Simulator) legacyGraphIDLocked(id string) (string, bool) {
	g := s.world.graphSync()
	if a := s.world.defender[id]; a != nil {
		return a.GraphAlertID, true
	}
	if _, ok := g.own[id]; ok {
		return id, true
	}
	return "", false
}

func (s *Simulator) legacyEntity(id string) (map[string]any, string, bool) {
	s.world.Lock()
	defer s.world.Unlock()
	gid, ok := s.legacyGraphIDLocked(id)
	if !ok {
		return nil, "", false
	}
	v, _ := s.graphAlertLocked(gid)
	m := s.renderLegacyAlert(v)
	m["@odata.context"] = s.graphContext("security/alerts/$entity")
	return m, gid, true
}

func (s *Simulator) graphLegacyGet(w http.ResponseWriter, r *http.Request) {
	m, _, ok := s.legacyEntity(r.PathValue("id"))
	if !ok {
		s.graphAlertNotFound(w, r.PathValue("id"))
		return
	}
	s.graphJSON(w, http.StatusOK, m)
}

func (s *Simulator) graphLegacyUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, ok := s.graphBody(w, r, "microsoft.graph.alert", legacyUpdatable, legacyReadOnly)
	if !ok {
		return
	}
	fail := func(msg string) { s.graphErr(w, http.StatusBadRequest, "BadRequest", msg) }
	var vi struct{ Provider, Vendor string }
	if raw, ok := body["vendorInformation"]; !ok || json.Unmarshal(raw, &vi) != nil || vi.Provider == "" || vi.Vendor == "" {
		fail("The vendorInformation property with its provider and vendor fields is required to update an alert.")
		return
	}
	current, gid, ok := s.legacyEntity(id)
	if !ok {
		s.graphAlertNotFound(w, id)
		return
	}
	// The update is routed to the named provider, which does not know an
	// alert of another.
	if p := current["vendorInformation"].(map[string]any)["provider"].(string); !strings.EqualFold(p, vi.Provider) || !strings.EqualFold("Microsoft", vi.Vendor) {
		s.graphErr(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Alert with id '%s' was not found for provider '%s' of vendor '%s'.", id, vi.Provider, vi.Vendor))
		return
	}
	var u graphAlertUpdate
	st, err := bodyEnum(body, "status", legacyAlertStatuses, "microsoft.graph.alertStatus")
	if err != nil {
		fail(err.Error())
		return
	}
	if st != nil && *st != "unknown" {
		v := *st
		if v == "newAlert" {
			v = "new"
		}
		u.status = &v
	}
	fb, err := bodyEnum(body, "feedback", legacyFeedbacks, "microsoft.graph.alertFeedback")
	if err != nil {
		fail(err.Error())
		return
	}
	if fb != nil {
		c := *fb
		if c == "benignPositive" {
			c = "informationalExpectedActivity"
		}
		u.classification = &c
	}
	if v, set, err := bodyString(body, "assignedTo"); err != nil {
		fail(err.Error())
		return
	} else if set {
		u.assignedTo = &v
	}
	if v, set, err := bodyString(body, "closedDateTime"); err != nil {
		fail(err.Error())
		return
	} else if set {
		var t time.Time
		if v != "" {
			if t, err = time.Parse(time.RFC3339Nano, v); err != nil {
				fail(fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'.", v))
				return
			}
		}
		u.legacyClosed = &t
	}
	if v, set, err := bodyStrings(body, "comments"); err != nil {
		fail(err.Error())
		return
	} else if set {
		u.legacyComments = v
	}
	if v, set, err := bodyStrings(body, "tags"); err != nil {
		fail(err.Error())
		return
	} else if set {
		u.legacyTags = v
	}
	if err := s.applyGraphAlertUpdate(gid, u); err != nil {
		s.graphFail(w, err)
		return
	}
	if graphPrefer(r, "return=representation") {
		m, _, _ := s.legacyEntity(id)
		s.graphJSON(w, http.StatusOK, m)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
