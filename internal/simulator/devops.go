package simulator

import (
	"crypto/sha1"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
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
