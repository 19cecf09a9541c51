package simulator

import (
	"bytes"
	"crypto/sha1"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Azure DevOps Boards: work item tracking at REST api-version 7.1 and
// workitem.updated service hooks, under /devops/{organization}/...
//
// Authentication is what Azure DevOps accepts from a daemon: a bearer
// token issued for its resource (scope
// 499b84ac-1321-427f-aa17-267ca6975798/.default), or HTTP Basic with any
// user name and a personal access token as the password. The simulator
// has one valid PAT: its client secret.
//
// The project runs "SecOps Triage", a custom process inherited from Agile.
// Issue is customised and Problem is a custom type, both with vigil's
// triage states; Task, Bug and Epic keep Agile's states. In an inherited
// process any state may follow any other, so only membership is checked.

// The newest api-version the simulated server knows; as on the real
// service today, it is still in preview.
const adoMaxMajor, adoMaxMinor = 7, 2

// adoEndOfTime is the revisedDate of a current revision.
const adoEndOfTime = "9999-01-01T00:00:00Z"

// State categories, as Azure Boards groups states.
const (
	adoProposed   = "Proposed"
	adoInProgress = "InProgress"
	adoResolved   = "Resolved"
	adoCompleted  = "Completed"
	adoRemoved    = "Removed"
)

type adoState struct{ name, category string }

type adoType struct {
	name   string
	states []adoState // the first is the initial state
}

func (t *adoType) state(name string) (adoState, bool) {
	for _, s := range t.states {
		if strings.EqualFold(s.name, name) {
			return s, true
		}
	}
	return adoState{}, false
}

func adoProcess() []*adoType {
	triage := []adoState{{"New", adoProposed}, {"Approved", adoProposed}, {"Removed", adoRemoved},
		{"Active", adoInProgress}, {"Verification", adoResolved}, {"Closed", adoCompleted}}
	return []*adoType{
		{"Issue", triage},
		{"Problem", triage},
		{"Task", []adoState{{"New", adoProposed}, {"Active", adoInProgress}, {"Closed", adoCompleted}, {"Removed", adoRemoved}}},
		{"Bug", []adoState{{"New", adoProposed}, {"Active", adoInProgress}, {"Resolved", adoResolved}, {"Closed", adoCompleted}}},
		{"Epic", []adoState{{"New", adoProposed}, {"Active", adoInProgress}, {"Resolved", adoResolved}, {"Closed", adoCompleted}, {"Removed", adoRemoved}}},
	}
}

// Field kinds.
const (
	adoKString   = "string"
	adoKInt      = "integer"
	adoKDouble   = "double"
	adoKDate     = "dateTime"
	adoKIdentity = "identity"
	adoKHTML     = "html"
	adoKHistory  = "history"
	adoKTags     = "plainText"
	adoKPath     = "treePath"
)

type adoField struct {
	ref, name, kind string
	readOnly        bool // set only by the service's rules
}

var adoFields = []adoField{
	{"System.Id", "ID", adoKInt, true},
	{"System.Rev", "Rev", adoKInt, true},
	{"System.Title", "Title", adoKString, false},
	{"System.State", "State", adoKString, false},
	{"System.Reason", "Reason", adoKString, false},
	{"System.WorkItemType", "Work Item Type", adoKString, true},
	{"System.TeamProject", "Team Project", adoKString, true},
	{"System.AreaPath", "Area Path", adoKPath, false},
	{"System.IterationPath", "Iteration Path", adoKPath, false},
	{"System.AssignedTo", "Assigned To", adoKIdentity, false},
	{"System.CreatedDate", "Created Date", adoKDate, true},
	{"System.CreatedBy", "Created By", adoKIdentity, true},
	{"System.ChangedDate", "Changed Date", adoKDate, true},
	{"System.ChangedBy", "Changed By", adoKIdentity, true},
	{"System.AuthorizedDate", "Authorized Date", adoKDate, true},
	{"System.RevisedDate", "Revised Date", adoKDate, true},
	{"System.Watermark", "Watermark", adoKInt, true},
	{"System.Description", "Description", adoKHTML, false},
	{"System.History", "History", adoKHistory, false},
	{"System.Tags", "Tags", adoKTags, false},
	{"Microsoft.VSTS.Common.Priority", "Priority", adoKInt, false},
	{"Microsoft.VSTS.Common.Severity", "Severity", adoKString, false},
	{"Microsoft.VSTS.Common.ValueArea", "Value Area", adoKString, false},
	{"Microsoft.VSTS.Common.StackRank", "Stack Rank", adoKDouble, false},
	{"Microsoft.VSTS.Common.StateChangeDate", "State Change Date", adoKDate, true},
	{"Microsoft.VSTS.Common.ActivatedDate", "Activated Date", adoKDate, true},
	{"Microsoft.VSTS.Common.ActivatedBy", "Activated By", adoKIdentity, true},
	{"Microsoft.VSTS.Common.ResolvedDate", "Resolved Date", adoKDate, true},
	{"Microsoft.VSTS.Common.ResolvedBy", "Resolved By", adoKIdentity, true},
	{"Microsoft.VSTS.Common.ResolvedReason", "Resolved Reason", adoKString, false},
	{"Microsoft.VSTS.Common.ClosedDate", "Closed Date", adoKDate, true},
	{"Microsoft.VSTS.Common.ClosedBy", "Closed By", adoKIdentity, true},
	{"Microsoft.VSTS.Common.AcceptanceCriteria", "Acceptance Criteria", adoKHTML, false},
	{"Microsoft.VSTS.TCM.ReproSteps", "Repro Steps", adoKHTML, false},
	{"Microsoft.VSTS.TCM.SystemInfo", "System Info", adoKHTML, false},
	{"Microsoft.VSTS.Scheduling.RemainingWork", "Remaining Work", adoKDouble, false},
	{"Microsoft.VSTS.Scheduling.OriginalEstimate", "Original Estimate", adoKDouble, false},
	{"Microsoft.VSTS.Scheduling.CompletedWork", "Completed Work", adoKDouble, false},
	{"Microsoft.VSTS.Scheduling.StoryPoints", "Story Points", adoKDouble, false},
	{"Microsoft.VSTS.Scheduling.Effort", "Effort", adoKDouble, false},
	{"Microsoft.VSTS.Scheduling.StartDate", "Start Date", adoKDate, false},
	{"Microsoft.VSTS.Scheduling.TargetDate", "Target Date", adoKDate, false},
	{"Microsoft.VSTS.Scheduling.DueDate", "Due Date", adoKDate, false},
}

// adoFieldIndex finds a field by reference name or friendly name, as
// Azure DevOps accepts either, ignoring case.
var adoFieldIndex = func() map[string]adoField {
	m := map[string]adoField{}
	for _, f := range adoFields {
		m[strings.ToLower(f.ref)] = f
		m[strings.ToLower(f.name)] = f
	}
	return m
}()

// adoResolveField resolves a field name; Custom.* fields of the inherited
// process are plain strings.
func adoResolveField(name string) (adoField, bool) {
	name = strings.TrimSpace(name)
	if f, ok := adoFieldIndex[strings.ToLower(name)]; ok {
		return f, true
	}
	if len(name) > len("Custom.") && strings.EqualFold(name[:len("Custom.")], "Custom.") {
		return adoField{ref: "Custom." + name[len("Custom."):], name: name[len("Custom."):], kind: adoKString}, true
	}
	return adoField{}, false
}

// adoIdentity is a user or service principal as work item fields hold it.
type adoIdentity struct{ Name, Unique, ID string }

// String is the form service hook payloads and WIQL use.
func (p adoIdentity) String() string { return p.Name + " <" + p.Unique + ">" }

// adoPerson resolves "Name <mail>", "mail" or "Name" to an identity in the
// simulated directory (every name resolves).
func adoPerson(s string) adoIdentity {
	s = strings.TrimSpace(s)
	name, unique := s, ""
	if i := strings.LastIndex(s, "<"); i >= 0 && strings.HasSuffix(s, ">") {
		name, unique = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:len(s)-1])
	} else if at := strings.Index(s, "@"); at > 0 {
		name, unique = s[:at], s
	} else {
		unique = strings.ToLower(strings.Join(strings.Fields(s), ".")) + "@contoso.com"
	}
	if name == "" {
		name = unique
	}
	return adoIdentity{Name: name, Unique: unique, ID: adoGUID("identity:" + strings.ToLower(unique))}
}

var adoPortalUser = adoPerson("Portal User <portal.user@contoso.com>")

// adoGUID derives a stable GUID from seed.
func adoGUID(seed string) string {
	h := sha1.Sum([]byte(seed))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// adoItem is one revision of a work item; a change makes a new one, so an
// older revision can still be compared with the current one.
type adoItem struct {
	id, rev   int
	fields    map[string]any // identities as adoIdentity, dates as time.Time
	relations []map[string]any
	watermark int
}

func (it *adoItem) clone() *adoItem {
	c := &adoItem{id: it.id, rev: it.rev, watermark: it.watermark, fields: maps.Clone(it.fields)}
	if c.fields == nil {
		c.fields = map[string]any{}
	}
	for _, rel := range it.relations {
		c.relations = append(c.relations, adoCloneRelation(rel))
	}
	return c
}

func adoCloneRelation(rel map[string]any) map[string]any {
	c := maps.Clone(rel)
	if a, ok := rel["attributes"].(map[string]any); ok {
		c["attributes"] = maps.Clone(a)
	}
	return c
}

// adoHook is a web hooks subscription to workitem.updated.
type adoHook struct {
	id, url, user, password, eventType string
	headers                            http.Header

	queue          [][]byte // payloads not yet delivered, oldest first
	running        bool     // a goroutine is delivering the queue
	deleted        bool
	notifications  int
	attempts       int
	delivered      int
	failedPayloads int
}

// devops is the simulated Azure DevOps organization and its one project.
type devops struct {
	s                                                *Simulator
	projectID, collectionID, accountID, deploymentID string
	client, loopback                                 *http.Client
	hookAttempts                                     int
	hookBackoff                                      time.Duration

	mu         sync.Mutex
	types      map[string]*adoType // by lower-case name
	items      map[int]*adoItem    // the current revision of each work item
	nextID     int
	nextLinkID int
	watermark  int
	hooks      []*adoHook
	// comments is each work item's discussion (devops_comments.go).
	comments      map[int][]*adoComment
	nextCommentID int
}

func newDevops(s *Simulator) *devops {
	key := strings.ToLower(s.opt.DevOpsOrg)
	d := &devops{
		s:            s,
		projectID:    adoGUID("project:" + key + "/" + strings.ToLower(s.opt.DevOpsProject)),
		collectionID: adoGUID("collection:" + key),
		accountID:    adoGUID("account:" + key),
		deploymentID: adoGUID("deployment:" + key),
		client:       &http.Client{Timeout: 10 * time.Second},
		// Consumers on this host (tests, the demo) may serve HTTPS with a
		// certificate of their own.
		loopback: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback consumers only
		}},
		// Service hooks retry a failed delivery with exponential backoff;
		// five attempts over about four seconds keeps tests fast.
		hookAttempts: 5,
		hookBackoff:  250 * time.Millisecond,
		types:        map[string]*adoType{},
		items:        map[int]*adoItem{},
		nextLinkID:   1000,
	}
	for _, t := range adoProcess() {
		d.types[strings.ToLower(t.name)] = t
	}
	return d
}

func (s *Simulator) devopsRoutes() {
	d := newDevops(s)
	const proj, org = "/devops/{org}/{project}/_apis/wit/", "/devops/{org}/_apis/wit/"
	d.route("POST "+proj+"workitems/{type}", "devops.workitems.create", d.create)
	for _, p := range []string{proj, org} {
		d.route("PATCH "+p+"workitems/{id}", "devops.workitems.update", d.update)
		d.route("GET "+p+"workitems/{id}", "devops.workitems.get", d.get)
		d.route("GET "+p+"workitems", "devops.workitems.list", d.list)
		d.route("POST "+p+"workitemsbatch", "devops.workitemsbatch", d.batch)
		d.route("POST "+p+"wiql", "devops.wiql", d.wiql)
	}
	d.commentRoutes(proj)
	d.route("GET /devops/{org}/_apis/connectiondata", "devops.connectiondata", d.connectionData)
	// Only under a project: a catch-all for the organization level would
	// overlap routes whose project segment could be "_apis".
	s.mux.HandleFunc("/devops/{org}/{project}/_apis/{rest...}", d.fallback)

	// Control API: service hook subscriptions and portal users.
	s.handle("POST /sim/v1/devops/hooks", "sim.devops.hooks.create", "", d.hookCreate)
	s.handle("GET /sim/v1/devops/hooks", "sim.devops.hooks.list", "", d.hookList)
	s.handle("DELETE /sim/v1/devops/hooks/{id}", "sim.devops.hooks.delete", "", d.hookDelete)
	s.handle("POST /sim/v1/devops/workitems/{id}/state", "sim.devops.state", "", d.portalState)
	s.handle("POST /sim/v1/devops/workitems/{id}/edit", "sim.devops.edit", "", d.portalFields)
}

// adoSpellings are the ways Microsoft's documentation and clients spell
// resource segments; Azure DevOps ignores case in paths, ServeMux does not.
var adoSpellings = map[string][]string{
	"workitems":      {"workitems", "workItems", "WorkItems"},
	"workitemsbatch": {"workitemsbatch", "workItemsBatch", "WorkItemsBatch"},
	"wiql":           {"wiql", "Wiql"},
	"connectiondata": {"connectiondata", "connectionData", "ConnectionData"},
}

// route registers a DevOps REST route under each spelling of its
// resource segment. Faults come first, as in handle; then the
// organization, then authentication as Azure DevOps does it (handle only
// knows bearer tokens).
func (d *devops) route(pattern, name string, h func(http.ResponseWriter, *http.Request, adoIdentity)) {
	patterns := []string{pattern}
	for i, seg := range strings.Split(pattern, "/") {
		if alts := adoSpellings[seg]; alts != nil {
			patterns = nil
			for _, alt := range alts {
				segs := strings.Split(pattern, "/")
				segs[i] = alt
				patterns = append(patterns, strings.Join(segs, "/"))
			}
		}
	}
	for _, p := range patterns {
		d.handle(p, name, h)
	}
}

func (d *devops) handle(pattern, name string, h func(http.ResponseWriter, *http.Request, adoIdentity)) {
	s := d.s
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		// Faults as for every route; authentication differs (PATs too).
		r, ok := s.applyFaults(name, audDevOps, w, r)
		if !ok {
			return
		}
		if org := r.PathValue("org"); !strings.EqualFold(org, s.opt.DevOpsOrg) {
			adoVSSFail(http.StatusNotFound, "Microsoft.VisualStudio.Services.Account.AccountNotFoundException, Microsoft.VisualStudio.Services.WebApi",
				"VS800075: The organization '"+org+"' does not exist.").write(w)
			return
		}
		who, ok := d.authenticate(w, r)
		if !ok {
			return
		}
		h(w, r, who)
	})
}

// authenticate accepts a personal access token over HTTP Basic (any user
// name; the PAT is the client secret) or a bearer token for Azure DevOps.
func (d *devops) authenticate(w http.ResponseWriter, r *http.Request) (adoIdentity, bool) {
	s := d.s
	if _, pat, ok := r.BasicAuth(); ok {
		if subtle.ConstantTimeCompare([]byte(pat), []byte(s.opt.ClientSecret)) == 1 {
			return adoPerson("Vigil Automation <vigil-automation@contoso.com>"), true
		}
		s.authError(audDevOps, w, "InvalidAuthenticationToken", "The personal access token is not valid.")
		return adoIdentity{}, false
	}
	if !s.authorize(audDevOps, w, r) {
		return adoIdentity{}, false
	}
	// The app's service principal: Azure DevOps names it after the app
	// registration, with its client id as unique name.
	return adoIdentity{Name: "vigil", Unique: s.opt.ClientID, ID: adoGUID("sp:" + s.opt.ClientID)}, true
}

// fallback serves project-level API paths no route matched. Azure DevOps
// ignores case in its path segments, so a known segment in any other case
// is lowered and the request served again; anything else gets the
// service's 404 or 405.
func (d *devops) fallback(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(r.URL.Path, "/")
	changed := false
	for i, seg := range segs {
		switch l := strings.ToLower(seg); l {
		case "_apis", "wit", "workitems", "workitemsbatch", "wiql", "connectiondata":
			if l != seg {
				segs[i], changed = l, true
			}
		}
	}
	if changed {
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = strings.Join(segs, "/"), ""
		d.s.mux.ServeHTTP(w, r2)
		return
	}
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := d.s.mux.Handler(probe); p != "" && !strings.HasSuffix(p, "{rest...}") {
			adoVSSFail(http.StatusMethodNotAllowed, "System.Web.Http.HttpResponseException, System.Web.Http",
				"The requested resource does not support http method '"+r.Method+"'.").write(w)
			return
		}
	}
	adoVSSFail(http.StatusNotFound, "System.Web.HttpException, System.Web",
		"The controller for path '"+r.URL.Path+"' was not found or does not implement IController.").write(w)
}

// adoFailure is an Azure DevOps error answer.
type adoFailure struct {
	code int
	body map[string]any
}

func (f *adoFailure) write(w http.ResponseWriter) { writeJSON(w, f.code, f.body) }

// adoWITFail is an error of work item tracking itself.
func adoWITFail(code int, typeKey, msg string) *adoFailure {
	return &adoFailure{code, devopsError(typeKey, msg, 0)}
}

// adoVSSFail is an error of the Azure DevOps platform; fullType is the
// .NET "Namespace.Type, Assembly" it names.
func adoVSSFail(code int, fullType, msg string) *adoFailure {
	typ, _, _ := strings.Cut(fullType, ", ")
	body := devopsError(typ[strings.LastIndex(typ, ".")+1:], msg, 0)
	body["typeName"] = fullType
	body["eventId"] = 3000
	return &adoFailure{code, body}
}

func adoWebAPI(typ string) string {
	return "Microsoft.VisualStudio.Services.WebApi." + typ + ", Microsoft.VisualStudio.Services.WebApi"
}

func adoItemNotFound(id string) *adoFailure {
	return adoWITFail(http.StatusNotFound, "WorkItemUnauthorizedAccessException",
		"TF401232: Work item "+id+" does not exist, or you do not have permissions to read it.")
}

func adoRuleFail(field, codes string) *adoFailure {
	return adoWITFail(http.StatusBadRequest, "RuleValidationException",
		"TF401320: Rule Error for field "+field+". Error code: "+codes+".")
}

func adoFieldNotFound(name string) *adoFailure {
	return adoWITFail(http.StatusBadRequest, "WorkItemTrackingFieldDefinitionNotFoundException", "TF51535: Cannot find field "+name+".")
}

func adoInvalidPatch() *adoFailure {
	return adoVSSFail(http.StatusBadRequest, "Microsoft.VisualStudio.Services.Common.VssPropertyValidationException, Microsoft.VisualStudio.Services.Common",
		"You must pass a valid patch document in the body of the request.")
}

func adoPatchFail(msg string) *adoFailure {
	return adoVSSFail(http.StatusBadRequest, "Microsoft.VisualStudio.Services.WebApi.Patch.PatchOperationFailedException, Microsoft.VisualStudio.Services.WebApi", msg)
}

// adoTestFail is the answer to a failed JSON Patch test, such as a stale
// /rev: 412, as Azure DevOps maps TestPatchOperationFailedException.
func adoTestFail(path string, have, want any) *adoFailure {
	return adoVSSFail(http.StatusPreconditionFailed, "Microsoft.VisualStudio.Services.WebApi.Patch.TestPatchOperationFailedException, Microsoft.VisualStudio.Services.WebApi",
		fmt.Sprintf("VS403351: Test Operation for path %s failed, value %v was not equal to test value %v.", path, have, want))
}

func adoArgumentNull(param string) *adoFailure {
	return adoVSSFail(http.StatusBadRequest, "System.ArgumentNullException, mscorlib", "Value cannot be null.\r\nParameter name: "+param)
}

func adoArgument(msg string) *adoFailure {
	return adoVSSFail(http.StatusBadRequest, "System.ArgumentException, mscorlib", msg)
}

var adoVersionRE = regexp.MustCompile(`^(\d+)\.(\d+)(-preview(\.\d+)?)?$`)

// checkVersion applies Azure DevOps' api-version rules: from the query or
// the Accept header; a GET without one gets the latest released version,
// any other method is refused; a version above the server's is out of
// range; a preview version needs -preview. route names the resource for
// the simulator's own limit: it serves 7.x shapes only.
func (d *devops) checkVersion(w http.ResponseWriter, r *http.Request, route string, previewOnly bool) bool {
	v := r.URL.Query().Get("api-version")
	if v == "" {
		v = adoAcceptVersion(r.Header.Values("Accept"))
	}
	var f *adoFailure
	m := adoVersionRE.FindStringSubmatch(v)
	switch {
	case v == "" && r.Method == http.MethodGet:
		return true
	case v == "":
		f = adoVSSFail(http.StatusBadRequest, adoWebAPI("VssVersionNotSpecifiedException"), fmt.Sprintf(
			`No api-version was supplied for the "%s" request. The version must be supplied either as part of the Accept header (e.g. "application/json; api-version=1.0") or as a query parameter (e.g. "?api-version=1.0").`, r.Method))
	case m == nil:
		f = adoVSSFail(http.StatusBadRequest, adoWebAPI("VssInvalidApiResourceVersionException"), fmt.Sprintf(
			`Invalid api version string: "%s". Api version string must be in the format: {Major}.{Minor}[-preview[.{ResourceVersion}]].`, v))
	default:
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		num, preview := fmt.Sprintf("%d.%d", major, minor), m[3] != ""
		switch {
		case major > adoMaxMajor || major == adoMaxMajor && minor > adoMaxMinor:
			f = adoVSSFail(http.StatusBadRequest, adoWebAPI("VssVersionOutOfRangeException"), fmt.Sprintf(
				"The requested REST API version of %s is out of range for this server. The latest REST API version this server supports is %d.%d.", num, adoMaxMajor, adoMaxMinor))
		case !preview && (previewOnly || major == adoMaxMajor && minor == adoMaxMinor):
			f = adoVSSFail(http.StatusBadRequest, adoWebAPI("VssInvalidPreviewVersionException"), fmt.Sprintf(
				`The requested version "%s" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests. For example: "%s-preview"`, num, num))
		case major < 7:
			// Deliberate: the real service serves older versions with
			// older shapes; the simulator only has 7.x.
			f = adoVSSFail(http.StatusBadRequest, adoWebAPI("VssVersionOutOfRangeException"), fmt.Sprintf(
				"The request matched route %s, but the requested REST API version %s was outside the valid version range for this route.", route, v))
		default:
			return true
		}
	}
	f.write(w)
	return false
}

// adoAcceptVersion finds api-version in an Accept header, as Microsoft's
// clients send it ("application/json;api-version=7.1-preview.3").
func adoAcceptVersion(vals []string) string {
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			for _, p := range strings.Split(part, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "api-version") {
					return strings.Trim(strings.TrimSpace(val), `"`)
				}
			}
		}
	}
	return ""
}

// checkProject accepts the project by name or id, ignoring case; an
// organization-level route has no project.
func (d *devops) checkProject(w http.ResponseWriter, r *http.Request) bool {
	p := r.PathValue("project")
	if p == "" || strings.EqualFold(p, d.s.opt.DevOpsProject) || strings.EqualFold(p, d.projectID) {
		return true
	}
	adoVSSFail(http.StatusNotFound, "Microsoft.TeamFoundation.Core.WebApi.ProjectDoesNotExistWithNameException, Microsoft.TeamFoundation.Core.WebApi",
		"TF200016: The following project does not exist: "+p+". Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server.").write(w)
	return false
}

func (d *devops) now() time.Time { return d.s.clock.Now().UTC().Truncate(time.Millisecond) }

// adoDate prints a time as Azure DevOps does: UTC, milliseconds without
// trailing zeros.
func adoDate(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.999Z") }

func (d *devops) orgURL() string  { return d.s.base() + "/devops/" + d.s.opt.DevOpsOrg }
func (d *devops) projURL() string { return d.orgURL() + "/" + d.projectID }
func (d *devops) itemURL(id int) string {
	return d.projURL() + "/_apis/wit/workItems/" + strconv.Itoa(id)
}
func (d *devops) htmlURL(id int) string {
	return d.orgURL() + "/web/wi.aspx?pcguid=" + d.collectionID + "&id=" + strconv.Itoa(id)
}

func adoHref(u string) map[string]any { return map[string]any{"href": u} }

func (d *devops) descriptor(p adoIdentity) string {
	return "aad." + base64.RawStdEncoding.EncodeToString([]byte(p.ID))
}

// identityRef is an IdentityRef, as 7.x returns identity fields.
func (d *devops) identityRef(p adoIdentity) map[string]any {
	desc := d.descriptor(p)
	return map[string]any{
		"displayName": p.Name,
		"url":         d.orgURL() + "/_apis/Identities/" + p.ID,
		"_links":      map[string]any{"avatar": adoHref(d.orgURL() + "/_apis/GraphProfile/MemberAvatars/" + desc)},
		"id":          p.ID,
		"uniqueName":  p.Unique,
		"imageUrl":    d.orgURL() + "/_api/_common/identityImage?id=" + p.ID,
		"descriptor":  desc,
	}
}

func (d *devops) restValue(v any) any {
	switch v := v.(type) {
	case adoIdentity:
		return d.identityRef(v)
	case time.Time:
		return adoDate(v)
	}
	return v
}

// adoHookValue is a field value as service hook payloads (resource
// version 1.0) print it: identities as "Name <unique name>".
func adoHookValue(v any) any {
	switch v := v.(type) {
	case adoIdentity:
		return v.String()
	case time.Time:
		return adoDate(v)
	}
	return v
}

func adoHookFields(f map[string]any) map[string]any {
	out := make(map[string]any, len(f))
	for k, v := range f {
		out[k] = adoHookValue(v)
	}
	return out
}

func adoString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case adoIdentity:
		return v.String()
	case time.Time:
		return adoDate(v)
	}
	return fmt.Sprint(v)
}

func adoNumber(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case string:
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return n, err == nil
	}
	return 0, false
}

// adoView is what a read returns of each work item.
type adoView struct {
	fields    []string // nil: all
	relations bool
	links     bool
}

func (d *devops) render(it *adoItem, v adoView) map[string]any {
	f := map[string]any{}
	if v.fields != nil {
		for _, ref := range v.fields {
			switch ref {
			case "System.Id":
				f[ref] = it.id
			case "System.Rev":
				f[ref] = it.rev
			default:
				if val, ok := it.fields[ref]; ok {
					f[ref] = d.restValue(val)
				}
			}
		}
	} else {
		for k, val := range it.fields {
			f[k] = d.restValue(val)
		}
	}
	out := map[string]any{"id": it.id, "rev": it.rev, "fields": f, "url": d.itemURL(it.id)}
	if v.relations && len(it.relations) > 0 {
		rels := make([]any, len(it.relations))
		for i, rel := range it.relations {
			rels[i] = adoCloneRelation(rel)
		}
		out["relations"] = rels
	}
	if v.links {
		self := d.itemURL(it.id)
		out["_links"] = map[string]any{
			"self":              adoHref(self),
			"workItemUpdates":   adoHref(self + "/updates"),
			"workItemRevisions": adoHref(self + "/revisions"),
			"workItemHistory":   adoHref(self + "/history"),
			"html":              adoHref(d.htmlURL(it.id)),
			"workItemType":      adoHref(d.projURL() + "/_apis/wit/workItemTypes/" + url.PathEscape(adoString(it.fields["System.WorkItemType"]))),
			"fields":            adoHref(d.projURL() + "/_apis/wit/fields"),
		}
	}
	return out
}

// adoSelection reads the fields and $expand parameters of a read.
func adoSelection(fields []string, expand string, links bool) (adoView, *adoFailure) {
	v := adoView{links: links}
	switch strings.ToLower(strings.TrimSpace(expand)) {
	case "", "none", "fields":
	case "relations":
		v.relations = true
	case "links":
		v.links = true
	case "all":
		v.relations, v.links = true, true
	default:
		return v, adoArgument("The value '" + expand + "' is not valid for parameter $expand. Valid values are None, Relations, Fields, Links, All.")
	}
	if len(fields) == 0 {
		return v, nil
	}
	if e := strings.ToLower(strings.TrimSpace(expand)); e != "" && e != "none" {
		return v, adoWITFail(http.StatusBadRequest, "ConflictingParametersException", "The expand parameter can not be used with the fields parameter.")
	}
	v.fields = []string{}
	for _, name := range fields {
		if strings.TrimSpace(name) == "" {
			continue
		}
		f, ok := adoResolveField(name)
		if !ok {
			return v, adoFieldNotFound(name)
		}
		v.fields = append(v.fields, f.ref)
	}
	return v, nil
}

func adoSplit(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// adoPatchOp is one JSON Patch operation.
type adoPatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  *string         `json:"from"`
	Value json.RawMessage `json:"value"`
}

// readPatch reads a JSON Patch body, which must be sent as
// application/json-patch+json.
func (d *devops) readPatch(w http.ResponseWriter, r *http.Request) ([]adoPatchOp, bool) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json-patch+json":
	case "application/json":
		adoVSSFail(http.StatusUnsupportedMediaType, adoWebAPI("VssRequestContentTypeNotSupportedException"), fmt.Sprintf(
			`The request indicated a Content-Type of "%s" for method type "%s" which is not supported. Valid content types for this method are: application/json-patch+json.`, ct, r.Method)).write(w)
		return nil, false
	default:
		adoInvalidPatch().write(w)
		return nil, false
	}
	var ops []adoPatchOp
	if err := decodeJSON(r, &ops); err != nil || len(ops) == 0 {
		adoInvalidPatch().write(w)
		return nil, false
	}
	return ops, true
}

// apply applies a JSON Patch to cur and returns the next revision, or cur
// itself when nothing changed. It is all or nothing: a failing operation,
// such as a test of a stale /rev, leaves cur as it was. d.mu is held.
func (d *devops) apply(cur *adoItem, ops []adoPatchOp, who adoIdentity, create bool) (*adoItem, *adoFailure) {
	next := cur.clone()
	delete(next.fields, "System.History") // history belongs to one revision
	set := map[string]bool{}
	for _, op := range ops {
		if f := d.applyOp(next, op, set); f != nil {
			return nil, f
		}
	}
	now := d.now()
	if f := d.settle(cur, next, who, set, create, now); f != nil {
		return nil, f
	}
	if !create && !adoChanged(cur, next) {
		return cur, nil
	}
	next.rev = cur.rev + 1
	next.fields["System.ChangedDate"] = now
	next.fields["System.ChangedBy"] = who
	if create {
		next.fields["System.CreatedDate"] = now
		next.fields["System.CreatedBy"] = who
		if _, ok := next.fields["Microsoft.VSTS.Common.Priority"]; !ok && !set["Microsoft.VSTS.Common.Priority"] {
			next.fields["Microsoft.VSTS.Common.Priority"] = float64(2)
		}
	}
	return next, nil
}

func (d *devops) applyOp(it *adoItem, op adoPatchOp, set map[string]bool) *adoFailure {
	var val any
	if len(op.Value) > 0 {
		if err := json.Unmarshal(op.Value, &val); err != nil {
			return adoInvalidPatch()
		}
	}
	kind := strings.ToLower(op.Op)
	switch kind {
	case "add", "replace", "remove", "test":
	case "move", "copy":
		return d.moveOrCopy(it, kind, op, set)
	default:
		return adoInvalidPatch()
	}
	lp := strings.ToLower(op.Path)
	switch {
	case lp == "/rev" || lp == "/id":
		have := it.rev
		if lp == "/id" {
			have = it.id
		}
		if kind != "test" {
			return adoRuleFail(map[string]string{"/rev": "Rev", "/id": "ID"}[lp], "ReadOnly")
		}
		if n, ok := adoNumber(val); !ok || n != float64(have) {
			return adoTestFail(op.Path, have, adoString(val))
		}
	case strings.HasPrefix(lp, "/fields/"):
		return d.applyField(it, kind, op.Path, op.Path[len("/fields/"):], val, set)
	case strings.HasPrefix(lp, "/relations/"):
		return d.applyRelation(it, kind, op.Path, op.Path[len("/relations/"):], val)
	default:
		return adoPatchFail("Unable to evaluate path " + op.Path + ".")
	}
	return nil
}

// moveOrCopy applies RFC 6902 move and copy between fields: the value at
// from is added at path, and for move then removed from from. Work items
// have no other place a value can move between.
func (d *devops) moveOrCopy(it *adoItem, kind string, op adoPatchOp, set map[string]bool) *adoFailure {
	if op.From == nil {
		return adoInvalidPatch()
	}
	from, to := *op.From, op.Path
	const prefix = "/fields/"
	if !strings.HasPrefix(strings.ToLower(from), prefix) || !strings.HasPrefix(strings.ToLower(to), prefix) {
		return adoPatchFail("Unable to evaluate path " + from + " to " + to + ".")
	}
	fromName, toName := from[len(prefix):], to[len(prefix):]
	f, ok := adoResolveField(fromName)
	if !ok {
		return adoFieldNotFound(fromName)
	}
	val, ok := it.fields[f.ref]
	if !ok {
		return adoPatchFail("Unable to evaluate path " + from + ".")
	}
	if fail := d.applyField(it, "add", to, toName, adoHookValue(val), set); fail != nil {
		return fail
	}
	if kind == "move" {
		return d.applyField(it, "remove", from, fromName, nil, set)
	}
	return nil
}

func (d *devops) applyField(it *adoItem, kind, path, name string, val any, set map[string]bool) *adoFailure {
	f, ok := adoResolveField(name)
	if !ok {
		return adoFieldNotFound(name)
	}
	ref := f.ref
	if kind == "test" {
		have := adoString(adoHookValue(it.fields[ref]))
		if have != adoString(val) {
			return adoTestFail(path, have, adoString(val))
		}
		return nil
	}
	if f.readOnly {
		return adoRuleFail(f.name, "ReadOnly")
	}
	set[ref] = true
	if kind == "remove" || val == nil {
		delete(it.fields, ref)
		return nil
	}
	switch f.kind {
	case adoKIdentity:
		var p adoIdentity
		switch v := val.(type) {
		case string:
			if strings.TrimSpace(v) == "" {
				delete(it.fields, ref)
				return nil
			}
			p = adoPerson(v)
		case map[string]any:
			u, n := adoString(v["uniqueName"]), adoString(v["displayName"])
			if u == "" && n == "" {
				return adoRuleFail(f.name, "InvalidIdentity")
			}
			if u == "" {
				p = adoPerson(n)
			} else {
				p = adoPerson(n + " <" + u + ">")
			}
		default:
			return adoRuleFail(f.name, "InvalidIdentity")
		}
		it.fields[ref] = p
	case adoKTags:
		// "add" adds tags to those the item has, "replace" sets them, and
		// "add" of an empty string clears them, as Azure DevOps treats tags.
		tags := adoTags(adoString(val))
		if kind == "add" && len(tags) > 0 {
			tags = append(adoTags(adoString(it.fields[ref])), tags...)
		}
		if joined := adoJoinTags(tags); joined != "" {
			it.fields[ref] = joined
		} else {
			delete(it.fields, ref)
		}
	case adoKDate:
		t, ok := adoParseTime(adoString(val))
		if !ok {
			return adoRuleFail(f.name, "InvalidType")
		}
		it.fields[ref] = t.UTC()
	case adoKInt, adoKDouble:
		n, ok := adoNumber(val)
		if !ok {
			return adoRuleFail(f.name, "InvalidType")
		}
		it.fields[ref] = n
	default:
		if _, isString := val.(string); !isString {
			val = adoString(val)
		}
		it.fields[ref] = val
	}
	return nil
}

// adoTags splits a tag list; tags are unique regardless of case.
func adoTags(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ";") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func adoJoinTags(tags []string) string {
	seen := map[string]bool{}
	var out []string
	for _, t := range tags {
		if !seen[strings.ToLower(t)] {
			seen[strings.ToLower(t)] = true
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i]) < strings.ToLower(out[j]) })
	return strings.Join(out, "; ")
}

// applyRelation handles /relations/- (append) and /relations/{index}.
func (d *devops) applyRelation(it *adoItem, kind, path, rest string, val any) *adoFailure {
	if rest == "-" {
		if kind != "add" {
			return adoPatchFail("Unable to evaluate path " + path + ".")
		}
		rel, f := d.relation(val)
		if f != nil {
			return f
		}
		it.relations = append(it.relations, rel)
		return nil
	}
	idxText, attr, _ := strings.Cut(rest, "/")
	i, err := strconv.Atoi(idxText)
	limit := len(it.relations)
	if kind == "add" && attr == "" {
		limit++ // add inserts before the index
	}
	if err != nil || i < 0 || i >= limit {
		return adoPatchFail("Index out of range for path " + path + ".")
	}
	if attr != "" {
		// /relations/{i}/attributes/{name}
		name, ok := strings.CutPrefix(attr, "attributes/")
		if !ok || name == "" || kind == "test" {
			return adoPatchFail("Unable to evaluate path " + path + ".")
		}
		attrs, _ := it.relations[i]["attributes"].(map[string]any)
		if attrs == nil {
			attrs = map[string]any{}
			it.relations[i]["attributes"] = attrs
		}
		if kind == "remove" {
			delete(attrs, name)
		} else {
			attrs[name] = val
		}
		return nil
	}
	switch kind {
	case "remove":
		it.relations = slices.Delete(it.relations, i, i+1)
	case "replace", "add":
		rel, f := d.relation(val)
		if f != nil {
			return f
		}
		if kind == "add" {
			it.relations = slices.Insert(it.relations, i, rel)
		} else {
			it.relations[i] = rel
		}
	case "test":
		// A relation is identified by its type and target.
		want, f := d.relation(val)
		if f != nil {
			return f
		}
		have := it.relations[i]
		if !strings.EqualFold(adoString(have["rel"]), adoString(want["rel"])) || !strings.EqualFold(adoString(have["url"]), adoString(want["url"])) {
			return adoTestFail(path, adoString(have["url"]), adoString(want["url"]))
		}
	}
	return nil
}

// relation reads a WorkItemRelation {rel, url, attributes}, adding the
// attributes the service adds.
func (d *devops) relation(val any) (map[string]any, *adoFailure) {
	m, _ := val.(map[string]any)
	rel, u := adoString(m["rel"]), adoString(m["url"])
	if m == nil || rel == "" || u == "" {
		return nil, adoWITFail(http.StatusBadRequest, "WorkItemLinkInvalidException", "VS402625: A relation requires both 'rel' and 'url'.")
	}
	attrs := map[string]any{}
	if a, ok := m["attributes"].(map[string]any); ok {
		attrs = maps.Clone(a)
	}
	switch {
	case strings.HasPrefix(rel, "System.LinkTypes.") || strings.HasPrefix(rel, "Microsoft.VSTS."):
		if _, ok := attrs["isLocked"]; !ok {
			attrs["isLocked"] = false
		}
	default: // Hyperlink, ArtifactLink, AttachedFile: resource links
		now := adoDate(d.now())
		d.nextLinkID++
		for k, v := range map[string]any{"authorizedDate": now, "id": d.nextLinkID, "resourceCreatedDate": now,
			"resourceModifiedDate": now, "revisedDate": adoEndOfTime} {
			if _, ok := attrs[k]; !ok {
				attrs[k] = v
			}
		}
	}
	return map[string]any{"rel": rel, "url": u, "attributes": attrs}, nil
}

// settle applies the process's rules after the operations: the state must
// be one of the type's, the reason and state dates follow a state change,
// the title is required and paths must be in the project.
func (d *devops) settle(cur, next *adoItem, who adoIdentity, set map[string]bool, create bool, now time.Time) *adoFailure {
	typ := d.types[strings.ToLower(adoString(next.fields["System.WorkItemType"]))]
	name := strings.TrimSpace(adoString(next.fields["System.State"]))
	if name == "" {
		if !create {
			return adoRuleFail("State", "Required, HasValues, LimitedToValues, InvalidEmpty")
		}
		name = typ.states[0].name
	}
	st, ok := typ.state(name)
	if !ok {
		return adoRuleFail("State", "Required, HasValues, LimitedToValues, AllowsOldValue, InvalidListValue")
	}
	next.fields["System.State"] = st.name
	old := adoString(cur.fields["System.State"])
	if st.name != old {
		if !set["System.Reason"] || adoString(next.fields["System.Reason"]) == "" {
			reason := "Moved to state " + st.name
			if create && st.name == typ.states[0].name {
				reason = "New"
			}
			next.fields["System.Reason"] = reason
		}
		next.fields["Microsoft.VSTS.Common.StateChangeDate"] = now
		oldCat := ""
		if s, ok := typ.state(old); ok {
			oldCat = s.category
		}
		adoStampCategory(next.fields, oldCat, st.category, who, now)
	}
	if strings.TrimSpace(adoString(next.fields["System.Title"])) == "" {
		return adoRuleFail("Title", "Required, InvalidEmpty")
	}
	project := d.s.opt.DevOpsProject
	for _, ref := range []string{"System.AreaPath", "System.IterationPath"} {
		p := adoString(next.fields[ref])
		if p == "" {
			next.fields[ref] = project
			continue
		}
		if !strings.EqualFold(p, project) && !(len(p) > len(project) && strings.EqualFold(p[:len(project)+1], project+`\`)) {
			id := next.id
			if create {
				id = -1
			}
			return adoWITFail(http.StatusBadRequest, "WorkItemFieldInvalidTreeNameException",
				fmt.Sprintf("TF401347: Invalid tree name given for work item %d, field '%s'.", id, ref))
		}
	}
	next.fields["System.TeamProject"] = project
	return nil
}

// adoStampCategory sets the dates and people the process records when a
// work item enters a state category.
func adoStampCategory(f map[string]any, from, to string, who adoIdentity, now time.Time) {
	clear := func(prefix string) {
		delete(f, "Microsoft.VSTS.Common."+prefix+"Date")
		delete(f, "Microsoft.VSTS.Common."+prefix+"By")
	}
	stamp := func(prefix string) {
		f["Microsoft.VSTS.Common."+prefix+"Date"] = now
		f["Microsoft.VSTS.Common."+prefix+"By"] = who
	}
	switch to {
	case adoProposed:
		clear("Activated")
		clear("Resolved")
		clear("Closed")
	case adoInProgress:
		if from != adoInProgress {
			stamp("Activated")
		}
		clear("Resolved")
		clear("Closed")
	case adoResolved:
		stamp("Resolved")
		clear("Closed")
	case adoCompleted:
		stamp("Closed")
	}
}

// adoChanged reports whether next differs from cur in anything but the
// history of cur's revision.
func adoChanged(cur, next *adoItem) bool {
	if _, ok := next.fields["System.History"]; ok {
		return true
	}
	a := adoHookFields(cur.fields)
	delete(a, "System.History")
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(adoHookFields(next.fields))
	ra, _ := json.Marshal(cur.relations)
	rb, _ := json.Marshal(next.relations)
	return !bytes.Equal(ja, jb) || !bytes.Equal(ra, rb)
}

// commit makes next the current revision and notifies service hooks of
// an update. d.mu is held.
func (d *devops) commit(old, next *adoItem, who adoIdentity) {
	d.watermark++
	next.watermark = d.watermark
	d.items[next.id] = next
	d.recordComment(next, who)
	if old != nil {
		d.notify(old, next, who)
	}
}

// change applies a patch to a work item as who and commits it. d.mu is
// held.
func (d *devops) change(id int, ops []adoPatchOp, who adoIdentity) (*adoItem, *adoFailure) {
	cur := d.items[id]
	if cur == nil {
		return nil, adoItemNotFound(strconv.Itoa(id))
	}
	next, f := d.apply(cur, ops, who, false)
	if f != nil {
		return nil, f
	}
	if next != cur {
		d.commit(cur, next, who)
	}
	return next, nil
}

func adoOp(path string, v any) adoPatchOp {
	b, _ := json.Marshal(v)
	return adoPatchOp{Op: "add", Path: path, Value: b}
}

// POST /{org}/{project}/_apis/wit/workitems/${type}
func (d *devops) create(w http.ResponseWriter, r *http.Request, who adoIdentity) {
	if !d.checkVersion(w, r, "wit/workItems", false) || !d.checkProject(w, r) {
		return
	}
	name, ok := strings.CutPrefix(r.PathValue("type"), "$")
	if !ok {
		adoVSSFail(http.StatusMethodNotAllowed, "System.Web.Http.HttpResponseException, System.Web.Http",
			"The requested resource does not support http method 'POST'.").write(w)
		return
	}
	ops, ok := d.readPatch(w, r)
	if !ok {
		return
	}
	validateOnly := strings.EqualFold(r.URL.Query().Get("validateOnly"), "true")
	d.mu.Lock()
	typ := d.types[strings.ToLower(name)]
	if typ == nil {
		d.mu.Unlock()
		adoWITFail(http.StatusNotFound, "WorkItemTypeNotFoundException", fmt.Sprintf(
			"VS402323: Work item type %s does not exist in project %s or you do not have permission to access it.", name, d.projectID)).write(w)
		return
	}
	tmpl := &adoItem{fields: map[string]any{"System.WorkItemType": typ.name}}
	next, f := d.apply(tmpl, ops, who, true)
	if f != nil {
		d.mu.Unlock()
		f.write(w)
		return
	}
	if !validateOnly {
		d.nextID++
		next.id = d.nextID
		d.commit(nil, next, who)
	}
	body := d.render(next, adoView{relations: true, links: true})
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func adoID(s string) (int, bool) {
	id, err := strconv.Atoi(strings.TrimSpace(s))
	return id, err == nil && id > 0
}

// PATCH /{org}/{project}/_apis/wit/workitems/{id}
func (d *devops) update(w http.ResponseWriter, r *http.Request, who adoIdentity) {
	if !d.checkVersion(w, r, "wit/workItems", false) || !d.checkProject(w, r) {
		return
	}
	id, ok := adoID(r.PathValue("id"))
	if !ok {
		adoItemNotFound(r.PathValue("id")).write(w)
		return
	}
	ops, ok := d.readPatch(w, r)
	if !ok {
		return
	}
	d.mu.Lock()
	cur := d.items[id]
	if cur == nil {
		d.mu.Unlock()
		adoItemNotFound(strconv.Itoa(id)).write(w)
		return
	}
	if portalEdit(r.Context()) {
		// A user saves the item in the web portal just before this write.
		if edited, f := d.apply(cur, []adoPatchOp{adoOp("/fields/System.History", "Edited in the web portal.")}, adoPortalUser, false); f == nil {
			d.commit(cur, edited, adoPortalUser)
			cur = edited
		}
	}
	next, f := d.apply(cur, ops, who, false)
	if f != nil {
		d.mu.Unlock()
		f.write(w)
		return
	}
	if next != cur && !strings.EqualFold(r.URL.Query().Get("validateOnly"), "true") {
		d.commit(cur, next, who)
	}
	body := d.render(next, adoView{relations: true, links: true})
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// GET /{org}/{project}/_apis/wit/workitems/{id}
func (d *devops) get(w http.ResponseWriter, r *http.Request, _ adoIdentity) {
	if !d.checkVersion(w, r, "wit/workItems", false) || !d.checkProject(w, r) {
		return
	}
	id, ok := adoID(r.PathValue("id"))
	if !ok {
		adoItemNotFound(r.PathValue("id")).write(w)
		return
	}
	q := r.URL.Query()
	view, f := adoSelection(adoSplit(q.Get("fields")), q.Get("$expand"), true)
	if f != nil {
		f.write(w)
		return
	}
	d.mu.Lock()
	it := d.items[id]
	var body map[string]any
	if it != nil {
		body = d.render(it, view)
	}
	d.mu.Unlock()
	if it == nil {
		adoItemNotFound(strconv.Itoa(id)).write(w)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// many reads work items for a list or batch; at most 200.
func (d *devops) many(ids []int, view adoView, policy string) (map[string]any, *adoFailure) {
	if len(ids) == 0 {
		return nil, adoArgumentNull("ids")
	}
	if len(ids) > 200 {
		return nil, adoArgument("VS402331: The maximum number of work items that can be requested at once is 200.")
	}
	omit := strings.EqualFold(policy, "omit")
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		it := d.items[id]
		if it == nil {
			if omit {
				out = append(out, nil)
				continue
			}
			return nil, adoItemNotFound(strconv.Itoa(id))
		}
		out = append(out, d.render(it, view))
	}
	return map[string]any{"count": len(out), "value": out}, nil
}

// GET /{org}/{project}/_apis/wit/workitems?ids=1,2,3
func (d *devops) list(w http.ResponseWriter, r *http.Request, _ adoIdentity) {
	if !d.checkVersion(w, r, "wit/workItems", false) || !d.checkProject(w, r) {
		return
	}
	q := r.URL.Query()
	var ids []int
	for _, s := range adoSplit(q.Get("ids")) {
		id, ok := adoID(s)
		if !ok {
			adoArgument("The value '" + strings.TrimSpace(s) + "' is not a valid work item id.").write(w)
			return
		}
		ids = append(ids, id)
	}
	view, f := adoSelection(adoSplit(q.Get("fields")), q.Get("$expand"), false)
	if f != nil {
		f.write(w)
		return
	}
	body, f := d.many(ids, view, q.Get("errorPolicy"))
	if f != nil {
		f.write(w)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// POST /{org}/{project}/_apis/wit/workitemsbatch
func (d *devops) batch(w http.ResponseWriter, r *http.Request, _ adoIdentity) {
	if !d.checkVersion(w, r, "wit/workItemsBatch", false) || !d.checkProject(w, r) {
		return
	}
	var req struct {
		IDs         []int    `json:"ids"`
		Fields      []string `json:"fields"`
		Expand      string   `json:"$expand"`
		ErrorPolicy string   `json:"errorPolicy"`
	}
	if err := decodeJSON(r, &req); err != nil {
		adoArgumentNull("request").write(w)
		return
	}
	view, f := adoSelection(req.Fields, req.Expand, false)
	if f != nil {
		f.write(w)
		return
	}
	body, f := d.many(req.IDs, view, req.ErrorPolicy)
	if f != nil {
		f.write(w)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// POST /{org}/{project}/_apis/wit/wiql
func (d *devops) wiql(w http.ResponseWriter, r *http.Request, who adoIdentity) {
	if !d.checkVersion(w, r, "wit/wiql", false) || !d.checkProject(w, r) {
		return
	}
	var req struct {
		Query string `json:"query"`
	}
	if err := decodeJSON(r, &req); err != nil || strings.TrimSpace(req.Query) == "" {
		adoArgumentNull("wiql").write(w)
		return
	}
	q := r.URL.Query()
	top := -1
	if s := q.Get("$top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			adoArgument("The value '" + s + "' is not valid for parameter $top.").write(w)
			return
		}
		top = n
	}
	env := &adoWiqlEnv{me: who, today: d.now().Truncate(24 * time.Hour),
		timePrecision: strings.EqualFold(q.Get("timePrecision"), "true")}
	if r.PathValue("project") != "" {
		env.project = d.s.opt.DevOpsProject
	}
	query, f := adoParseWiql(req.Query, env)
	if f != nil {
		f.write(w)
		return
	}
	d.mu.Lock()
	items := query.run(env, d.items)
	d.mu.Unlock()
	if top >= 0 && len(items) > top {
		items = items[:top]
	}
	field := func(f adoField) map[string]any {
		return map[string]any{"referenceName": f.ref, "name": f.name, "url": d.orgURL() + "/_apis/wit/fields/" + f.ref}
	}
	columns := []any{}
	for _, c := range query.columns {
		columns = append(columns, field(c))
	}
	sorts := []any{}
	for _, o := range query.order {
		sorts = append(sorts, map[string]any{"field": field(o.field), "descending": o.desc})
	}
	refs := []any{}
	for _, it := range items {
		refs = append(refs, map[string]any{"id": it.id, "url": d.itemURL(it.id)})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"queryType": "flat", "asOf": adoDate(d.now()),
		"columns": columns, "sortColumns": sorts, "workItems": refs,
	})
}

// GET /{org}/_apis/connectionData: who the caller is. Like the real
// resource, it has no released version: the api-version needs -preview.
func (d *devops) connectionData(w http.ResponseWriter, r *http.Request, who adoIdentity) {
	if !d.checkVersion(w, r, "location/connectionData", true) {
		return
	}
	user := map[string]any{
		"id":                  who.ID,
		"descriptor":          "Microsoft.IdentityModel.Claims.ClaimsIdentity;" + d.s.opt.TenantID + `\` + who.Unique,
		"subjectDescriptor":   d.descriptor(who),
		"providerDisplayName": who.Name,
		"isActive":            true,
		"properties":          map[string]any{"Account": map[string]any{"$type": "System.String", "$value": who.Unique}},
		"resourceVersion":     2,
		"metaTypeId":          0,
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"authenticatedUser": user, "authorizedUser": user,
		"instanceId": d.collectionID, "deploymentId": d.deploymentID, "deploymentType": "hosted",
		"locationServiceData": map[string]any{
			"serviceOwner": "00025394-6065-48ca-87d9-7f5672854ef7", "defaultAccessMappingMoniker": "PublicAccessMapping",
			"lastChangeId": 1, "lastChangeId64": 1,
		},
	})
}

// Service hooks.

// notify queues a workitem.updated event for every subscription. d.mu is
// held.
func (d *devops) notify(old, cur *adoItem, who adoIdentity) {
	var ev map[string]any
	for _, h := range d.hooks {
		if h.deleted || h.eventType != "workitem.updated" {
			continue
		}
		if ev == nil {
			ev = d.updatedEvent(old, cur, who)
		}
		h.notifications++
		body := maps.Clone(ev)
		body["subscriptionId"] = h.id
		body["notificationId"] = h.notifications
		b, err := json.Marshal(body)
		if err != nil {
			d.s.log.Error("service hook payload", "err", err)
			continue
		}
		h.queue = append(h.queue, b)
		if !h.running {
			h.running = true
			go d.drain(h)
		}
	}
}

// drain delivers a subscription's queue in order, one payload at a time,
// and ends when the queue is empty.
func (d *devops) drain(h *adoHook) {
	for {
		d.mu.Lock()
		if len(h.queue) == 0 || h.deleted {
			h.queue, h.running = nil, false
			d.mu.Unlock()
			return
		}
		b := h.queue[0]
		h.queue = h.queue[1:]
		d.mu.Unlock()
		d.deliver(h, b)
	}
}

// deliver posts one payload, retrying with exponential backoff a bounded
// number of times, as Azure DevOps retries a failing consumer.
func (d *devops) deliver(h *adoHook, body []byte) {
	wait := d.hookBackoff
	for attempt := 1; ; attempt++ {
		err := d.post(h, body)
		d.mu.Lock()
		h.attempts++
		if err == nil {
			h.delivered++
		}
		gone := h.deleted
		d.mu.Unlock()
		if err == nil || gone {
			return
		}
		if attempt >= d.hookAttempts {
			d.mu.Lock()
			h.failedPayloads++
			d.mu.Unlock()
			d.s.log.Warn("service hook delivery failed", "subscription", h.id, "url", h.url, "attempts", attempt, "err", err)
			return
		}
		time.Sleep(wait)
		wait *= 2
	}
}

func (d *devops) post(h *adoHook, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, vs := range h.headers {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "VSServices/16.255.35114.6 (NetStandard; Linux)")
	if h.user != "" || h.password != "" {
		req.SetBasicAuth(h.user, h.password)
	}
	client := d.client
	if host := req.URL.Hostname(); host == "localhost" || net.ParseIP(host).IsLoopback() {
		client = d.loopback
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// updatedEvent is the workitem.updated payload, resource version 1.0.
func (d *devops) updatedEvent(old, cur *adoItem, who adoIdentity) map[string]any {
	oldF, curF := adoHookFields(old.fields), adoHookFields(cur.fields)
	pair := func(o, n any, hasOld, hasNew bool) map[string]any {
		m := map[string]any{}
		if hasOld {
			m["oldValue"] = o
		}
		if hasNew {
			m["newValue"] = n
		}
		return m
	}
	changes := map[string]any{}
	for k, v := range curF {
		ov, had := oldF[k]
		if k == "System.History" {
			had = false
		}
		if !had {
			changes[k] = pair(nil, v, false, true)
		} else if a, b := fmt.Sprint(ov), fmt.Sprint(v); a != b {
			changes[k] = pair(ov, v, true, true)
		}
	}
	for k, ov := range oldF {
		if _, ok := curF[k]; !ok && k != "System.History" {
			changes[k] = pair(ov, nil, true, false)
		}
	}
	if changes["System.ChangedDate"] == nil { // every update has one, even within a millisecond
		changes["System.ChangedDate"] = pair(oldF["System.ChangedDate"], curF["System.ChangedDate"], true, true)
	}
	changes["System.Rev"] = pair(old.rev, cur.rev, true, true)
	changes["System.AuthorizedDate"] = pair(oldF["System.ChangedDate"], curF["System.ChangedDate"], true, true)
	changes["System.RevisedDate"] = pair(curF["System.ChangedDate"], adoEndOfTime, true, true)
	changes["System.Watermark"] = pair(old.watermark, cur.watermark, true, true)

	revisedBy := d.identityRef(who)
	revisedBy["name"] = who.String()
	rev := strconv.Itoa(cur.rev)
	updates := d.itemURL(cur.id) + "/updates"
	msg, detailed := d.eventMessages(cur, who, changes["System.State"] != nil)
	return map[string]any{
		"id":              newGUID(),
		"eventType":       "workitem.updated",
		"publisherId":     "tfs",
		"scope":           "all",
		"message":         msg,
		"detailedMessage": detailed,
		"resource": map[string]any{
			"id":          cur.rev, // the update's number: one per revision here
			"workItemId":  cur.id,
			"rev":         cur.rev,
			"revisedBy":   revisedBy,
			"revisedDate": adoEndOfTime,
			"fields":      changes,
			"_links": map[string]any{
				"self":            adoHref(updates + "/" + rev),
				"parent":          adoHref(d.itemURL(cur.id)),
				"workItemUpdates": adoHref(updates),
			},
			"url": updates + "/" + rev,
			"revision": map[string]any{
				"id": cur.id, "rev": cur.rev, "fields": curF,
				"url": d.itemURL(cur.id) + "/revisions/" + rev,
			},
		},
		"resourceVersion": "1.0",
		"resourceContainers": map[string]any{
			"collection": map[string]any{"id": d.collectionID},
			"account":    map[string]any{"id": d.accountID},
			"project":    map[string]any{"id": d.projectID},
		},
		"createdDate": d.s.clock.Now().UTC().Format("2006-01-02T15:04:05.0000000Z"),
	}
}

func (d *devops) eventMessages(it *adoItem, who adoIdentity, stateChanged bool) (msg, detailed map[string]any) {
	typ, title := adoString(it.fields["System.WorkItemType"]), adoString(it.fields["System.Title"])
	link := d.htmlURL(it.id)
	label := fmt.Sprintf("%s #%d", typ, it.id)
	text := fmt.Sprintf("%s (%s) updated by %s.\r\n(%s)", label, title, who.Name, link)
	htm := fmt.Sprintf(`<a href="%s">%s</a> (%s) updated by %s.`, html.EscapeString(link), html.EscapeString(label), html.EscapeString(title), html.EscapeString(who.Name))
	md := fmt.Sprintf("[%s](%s) (%s) updated by %s.", label, link, title, who.Name)
	msg = map[string]any{"text": text, "html": htm, "markdown": md}
	detailed = maps.Clone(msg)
	if stateChanged {
		st := adoString(it.fields["System.State"])
		detailed["text"] = text + "\r\n\r\n- New State: " + st + "\r\n"
		detailed["html"] = htm + "<ul>\r\n<li>New State: " + html.EscapeString(st) + "</li></ul>"
		detailed["markdown"] = md + "\r\n\r\n* New State: " + st + "\r\n"
	}
	return msg, detailed
}

func adoSimError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// POST /sim/v1/devops/hooks {url, username, password, eventType,
// httpHeaders}: a web hooks subscription, as an organization admin makes
// one in Project settings > Service hooks.
func (d *devops) hookCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL         string `json:"url"`
		Username    string `json:"username"`
		Password    string `json:"password"`
		EventType   string `json:"eventType"`
		HTTPHeaders string `json:"httpHeaders"` // "Name: value" lines, as the web hooks consumer takes them
	}
	if err := decodeJSON(r, &req); err != nil {
		adoSimError(w, http.StatusBadRequest, "want {url, username, password, eventType, httpHeaders}: "+err.Error())
		return
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		adoSimError(w, http.StatusBadRequest, "url must be an absolute http or https URL")
		return
	}
	if req.EventType == "" {
		req.EventType = "workitem.updated"
	}
	if req.EventType != "workitem.updated" {
		adoSimError(w, http.StatusBadRequest, "eventType: only workitem.updated is simulated")
		return
	}
	h := &adoHook{id: newGUID(), url: req.URL, user: req.Username, password: req.Password, eventType: req.EventType, headers: http.Header{}}
	for _, line := range strings.Split(req.HTTPHeaders, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) != "" {
			h.headers.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	d.mu.Lock()
	d.hooks = append(d.hooks, h)
	d.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": h.id, "url": h.url, "eventType": h.eventType, "publisherId": "tfs",
		"consumerId": "webHooks", "consumerActionId": "httpRequest",
	})
}

// GET /sim/v1/devops/hooks: subscriptions with delivery counts.
func (d *devops) hookList(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	out := []any{}
	for _, h := range d.hooks {
		out = append(out, map[string]any{
			"id": h.id, "url": h.url, "eventType": h.eventType, "notifications": h.notifications,
			"attempts": h.attempts, "delivered": h.delivered, "failed": h.failedPayloads, "pending": len(h.queue),
		})
	}
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "value": out})
}

// DELETE /sim/v1/devops/hooks/{id}
func (d *devops) hookDelete(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, h := range d.hooks {
		if h.id == r.PathValue("id") {
			h.deleted = true
			d.hooks = slices.Delete(d.hooks, i, i+1)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	adoSimError(w, http.StatusNotFound, "no such subscription")
}

// portalChange applies a portal user's change and answers the control
// API. The process rules apply as they do to the REST API.
func (d *devops) portalChange(w http.ResponseWriter, r *http.Request, by string, ops []adoPatchOp) {
	id, ok := adoID(r.PathValue("id"))
	if !ok {
		adoSimError(w, http.StatusNotFound, "no such work item")
		return
	}
	who := adoPortalUser
	if strings.TrimSpace(by) != "" {
		who = adoPerson(by)
	}
	d.mu.Lock()
	it, f := d.change(id, ops, who)
	var resp map[string]any
	if f == nil {
		resp = map[string]any{"id": it.id, "rev": it.rev, "state": it.fields["System.State"]}
	}
	d.mu.Unlock()
	if f != nil {
		adoSimError(w, f.code, adoString(f.body["message"]))
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// POST /sim/v1/devops/workitems/{id}/state {"state":"Closed","by":"Alice",
// "reason":"...","comment":"..."}: a user moves the item on the board.
func (d *devops) portalState(w http.ResponseWriter, r *http.Request) {
	var req struct{ State, By, Reason, Comment string }
	if err := decodeJSON(r, &req); err != nil || strings.TrimSpace(req.State) == "" {
		adoSimError(w, http.StatusBadRequest, `want {"state":"Closed","by":"Alice","reason":"","comment":""}`)
		return
	}
	ops := []adoPatchOp{adoOp("/fields/System.State", req.State)}
	if req.Reason != "" {
		ops = append(ops, adoOp("/fields/System.Reason", req.Reason))
	}
	if req.Comment != "" {
		ops = append(ops, adoOp("/fields/System.History", req.Comment))
	}
	d.portalChange(w, r, req.By, ops)
}

// POST /sim/v1/devops/workitems/{id}/edit {"fields":{"System.Title":"x"},
// "by":"Alice"}: a user edits fields in the web portal.
func (d *devops) portalFields(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Fields map[string]any `json:"fields"`
		By     string         `json:"by"`
	}
	if err := decodeJSON(r, &req); err != nil || len(req.Fields) == 0 {
		adoSimError(w, http.StatusBadRequest, `want {"fields":{"System.Title":"..."},"by":"Alice"}`)
		return
	}
	var ops []adoPatchOp
	for _, k := range slices.Sorted(maps.Keys(req.Fields)) {
		ops = append(ops, adoOp("/fields/"+k, req.Fields[k]))
	}
	d.portalChange(w, r, req.By, ops)
}
