package simulator

// Microsoft Sentinel (Microsoft.SecurityInsights): incidents, the alerts of
// an incident, and an incident's comments, relations and tasks. Property
// names, nesting and enum spellings follow the official examples in
// testdata/sentinel/ (copied from Azure/azure-rest-api-specs).

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	sentinelPrefix = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{ws}/providers/Microsoft.SecurityInsights"
	// sentinelPageSize is the service's default page size for incidents.
	sentinelPageSize = 50
	// sentinelMaxTop is the largest page a client may ask for with $top.
	sentinelMaxTop = 1000

	sentinelTypeIncident = "Microsoft.SecurityInsights/incidents"
	sentinelTypeComment  = "Microsoft.SecurityInsights/incidents/comments"
	sentinelTypeRelation = "Microsoft.SecurityInsights/incidents/relations"
	sentinelTypeTask     = "Microsoft.SecurityInsights/incidents/tasks"
	sentinelTypeEntity   = "Microsoft.SecurityInsights/Entities"
	sentinelTypeBookmark = "Microsoft.SecurityInsights/bookmarks"
	sentinelTypeEntities = "Microsoft.SecurityInsights/entities"
)

// Enum spellings, as Microsoft.SecurityInsights writes them. Input is
// matched case-insensitively and answered in these spellings.
var (
	sentinelSeverities      = []string{"High", "Medium", "Low", "Informational"}
	sentinelStatuses        = []string{IncidentNew, IncidentActive, IncidentClosed}
	sentinelClassifications = []string{"BenignPositive", "FalsePositive", "TruePositive", "Undetermined"}
	sentinelReasons         = map[string][]string{ // classification → its reasons
		"TruePositive":   {"SuspiciousActivity"},
		"BenignPositive": {"SuspiciousButExpected"},
		"FalsePositive":  {"IncorrectAlertLogic", "InaccurateData"},
		"Undetermined":   {},
	}
	sentinelOwnerTypes   = []string{"User", "Group", "Unknown"}
	sentinelTaskStatuses = []string{"New", "Completed"}
)

func (s *Simulator) sentinelRoutes() {
	inc := sentinelPrefix + "/incidents"
	one := inc + "/{incident}"
	s.sentinelHandle("GET "+inc, "sentinel.incidents.list", s.sentinelListIncidents)
	s.sentinelHandle("GET "+one, "sentinel.incidents.get", s.sentinelGetIncident)
	s.sentinelHandle("PUT "+one, "sentinel.incidents.put", s.sentinelPutIncident)
	s.sentinelHandle("DELETE "+one, "sentinel.incidents.delete", s.sentinelDeleteIncident)
	s.sentinelHandle("POST "+one+"/alerts", "sentinel.incidents.alerts", s.sentinelListAlerts)

	s.sentinelHandle("GET "+one+"/comments", "sentinel.comments.list", s.sentinelListComments)
	s.sentinelHandle("GET "+one+"/comments/{child}", "sentinel.comments.get", s.sentinelGetComment)
	s.sentinelHandle("PUT "+one+"/comments/{child}", "sentinel.comments.put", s.sentinelPutComment)
	s.sentinelHandle("DELETE "+one+"/comments/{child}", "sentinel.comments.delete", s.sentinelDeleteComment)

	s.sentinelHandle("GET "+one+"/relations", "sentinel.relations.list", s.sentinelListRelations)
	s.sentinelHandle("GET "+one+"/relations/{child}", "sentinel.relations.get", s.sentinelGetRelation)
	s.sentinelHandle("PUT "+one+"/relations/{child}", "sentinel.relations.put", s.sentinelPutRelation)
	s.sentinelHandle("DELETE "+one+"/relations/{child}", "sentinel.relations.delete", s.sentinelDeleteRelation)

	s.sentinelHandle("GET "+one+"/tasks", "sentinel.tasks.list", s.sentinelListTasks)
	s.sentinelHandle("GET "+one+"/tasks/{child}", "sentinel.tasks.get", s.sentinelGetTask)
	s.sentinelHandle("PUT "+one+"/tasks/{child}", "sentinel.tasks.put", s.sentinelPutTask)
	s.sentinelHandle("DELETE "+one+"/tasks/{child}", "sentinel.tasks.delete", s.sentinelDeleteTask)

	s.sentinelAutomationRuleRoutes() // automationrules.go
}

// sentinelHandle registers an ARM route: token for ARM, then the
// api-version, then the subscription, resource group and workspace.
func (s *Simulator) sentinelHandle(pattern, name string, h http.HandlerFunc) {
	s.handle(pattern, name, audARM, func(w http.ResponseWriter, r *http.Request) {
		if !s.checkAPIVersion(w, r, "Microsoft.SecurityInsights") || !s.sentinelScope(w, r) {
			return
		}
		h(w, r)
	})
}

// sentinelScope answers as ARM does for a subscription, resource group or
// workspace that is not the simulated one.
func (s *Simulator) sentinelScope(w http.ResponseWriter, r *http.Request) bool {
	sub, rg, ws := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("ws")
	switch {
	case !strings.EqualFold(sub, s.opt.SubscriptionID):
		writeJSON(w, http.StatusNotFound, armErrorBody("SubscriptionNotFound", fmt.Sprintf("The subscription '%s' could not be found.", sub)))
	case !strings.EqualFold(rg, s.opt.ResourceGroup):
		writeJSON(w, http.StatusNotFound, armErrorBody("ResourceGroupNotFound", fmt.Sprintf("Resource group '%s' could not be found.", rg)))
	case !strings.EqualFold(ws, s.opt.Workspace):
		writeJSON(w, http.StatusNotFound, armErrorBody("ResourceNotFound", fmt.Sprintf(
			"The Resource 'Microsoft.OperationalInsights/workspaces/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", ws, rg)))
	default:
		return true
	}
	return false
}

// Errors in Sentinel's shape.

func sentinelNotFound(w http.ResponseWriter, what, name string) {
	writeJSON(w, http.StatusNotFound, armErrorBody("NotFound", fmt.Sprintf("%s '%s' not found", what, name)))
}

func sentinelConflict(w http.ResponseWriter, name string) {
	writeJSON(w, http.StatusConflict, armErrorBody("Conflict", fmt.Sprintf("New version of resource '%s' exists. Data was not saved", name)))
}

func (s *Simulator) sentinelWorldError(w http.ResponseWriter, err error, what, name string) {
	switch {
	case errors.Is(err, ErrConflict):
		sentinelConflict(w, name)
	case errors.Is(err, ErrNotFound):
		sentinelNotFound(w, what, name)
	case errors.Is(err, ErrInvalidInput):
		armBadRequest(w, strings.TrimSuffix(err.Error(), ": "+ErrInvalidInput.Error()))
	default:
		writeJSON(w, http.StatusInternalServerError, armErrorBody("InternalServerError", "An internal server error occurred."))
	}
}

// Formatting.

// sentinelTime prints a time with the 7 fractional digits the service
// prints, or null.
func sentinelTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.0000000") + "Z"
}

func sentinelNullable(v string) any {
	if v == "" {
		return nil
	}
	return v
}

func sentinelStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// sentinelUnquote strips an etag's quotes: comments and relations print
// their etags bare, incidents and tasks quoted.
func sentinelUnquote(etag string) string { return strings.Trim(etag, `"`) }

// sentinelETagMatches reports whether a client's etag (quoted or not) is
// current; an empty or "*" etag always matches.
func sentinelETagMatches(client, current string) bool {
	return client == "" || client == "*" || sentinelUnquote(client) == sentinelUnquote(current)
}

// sentinelDerivedGUID is a stable GUID for a name, for resources the
// simulator derives rather than stores.
func sentinelDerivedGUID(name string) string {
	h := sha1.Sum([]byte(name))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// sentinelEnum returns v in its canonical spelling from allowed.
func sentinelEnum(v string, allowed []string) (string, bool) {
	for _, a := range allowed {
		if strings.EqualFold(a, v) {
			return a, true
		}
	}
	return "", false
}

func (s *Simulator) sentinelWorkspaceID() string { return s.world.workspaceID() }

func (s *Simulator) sentinelIncidentID(name string) string {
	return s.sentinelWorkspaceID() + "/providers/Microsoft.SecurityInsights/incidents/" + name
}

// sentinelClientInfo renders a stored author or creator as the service's
// ClientInfo: a GUID is an object id (the calling application), an address
// is a user.
func sentinelClientInfo(who string) map[string]any {
	info := map[string]any{"objectId": nil, "email": nil, "userPrincipalName": nil, "name": nil}
	switch {
	case who == "":
	case sentinelIsGUID(who):
		info["objectId"] = who
	case strings.Contains(who, "@"):
		info["objectId"] = sentinelDerivedGUID("user:" + strings.ToLower(who))
		info["email"], info["userPrincipalName"], info["name"] = who, who, who
	default:
		info["objectId"] = sentinelDerivedGUID("user:" + strings.ToLower(who))
		info["name"] = who
	}
	return info
}

func sentinelIsGUID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i, c := range v {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// Incidents.

// sentinelIncidentJSON renders an incident. The caller holds the world's lock.
func (s *Simulator) sentinelIncidentJSON(inc *Incident) map[string]any {
	id := s.sentinelIncidentID(inc.Name)
	products, tactics := []string{}, []string{}
	for _, aid := range inc.AlertIDs {
		sa := s.world.sentinelAlerts[aid]
		if sa == nil {
			continue
		}
		if sa.ProductName != "" && !slices.Contains(products, sa.ProductName) {
			products = append(products, sa.ProductName)
		}
		for _, t := range sa.Tactics {
			if t != "" && !slices.Contains(tactics, t) {
				tactics = append(tactics, t)
			}
		}
	}
	bookmarks := 0
	for _, rel := range inc.Relations {
		if strings.EqualFold(rel.RelatedType, sentinelTypeBookmark) {
			bookmarks++
		}
	}
	owner := map[string]any{
		"objectId": sentinelNullable(inc.Owner.ObjectID), "email": sentinelNullable(inc.Owner.Email),
		"assignedTo": sentinelNullable(inc.Owner.AssignedTo), "userPrincipalName": sentinelNullable(inc.Owner.UserPrincipalName),
	}
	if inc.Owner.OwnerType != "" {
		owner["ownerType"] = inc.Owner.OwnerType
	}
	labels := make([]map[string]any, 0, len(inc.Labels))
	labels = append(labels, inc.Labels...)
	props := map[string]any{
		"title":                  inc.Title,
		"severity":               inc.Severity,
		"status":                 inc.Status,
		"owner":                  owner,
		"labels":                 labels,
		"firstActivityTimeUtc":   sentinelTime(inc.FirstActivity),
		"lastActivityTimeUtc":    sentinelTime(inc.LastActivity),
		"lastModifiedTimeUtc":    sentinelTime(inc.LastModified),
		"createdTimeUtc":         sentinelTime(inc.Created),
		"incidentNumber":         inc.Number,
		"incidentUrl":            "https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident" + id,
		"providerName":           inc.ProviderName,
		"providerIncidentId":     inc.ProviderIncidentID,
		"relatedAnalyticRuleIds": sentinelStrings(inc.RelatedRuleIDs),
		"additionalData": map[string]any{
			"alertsCount": len(inc.AlertIDs), "bookmarksCount": bookmarks, "commentsCount": len(inc.Comments),
			"alertProductNames": products, "tactics": tactics,
		},
	}
	// The service leaves out what an incident does not have yet.
	for k, v := range map[string]string{"description": inc.Description, "classification": inc.Classification,
		"classificationReason": inc.ClassificationReason, "classificationComment": inc.ClassificationComment} {
		if v != "" {
			props[k] = v
		}
	}
	return map[string]any{"id": id, "name": inc.Name, "type": sentinelTypeIncident, "etag": inc.ETag, "properties": props}
}

// sentinelRender renders the named incident, or reports that it is gone.
func (s *Simulator) sentinelRender(name string) (map[string]any, bool) {
	s.world.Lock()
	defer s.world.Unlock()
	inc := s.world.incidents[name]
	if inc == nil {
		return nil, false
	}
	return s.sentinelIncidentJSON(inc), true
}

func (s *Simulator) sentinelGetIncident(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("incident")
	v, ok := s.sentinelRender(name)
	if !ok {
		sentinelNotFound(w, "Incident", name)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Simulator) sentinelListIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var pred sentinelPred
	if f := strings.TrimSpace(q.Get("$filter")); f != "" {
		p, err := parseSentinelFilter(f)
		if err != nil {
			armBadRequest(w, fmt.Sprintf("Invalid $filter '%s': %v", f, err))
			return
		}
		pred = p
	}
	order, err := parseSentinelOrderBy(q.Get("$orderby"))
	if err != nil {
		armBadRequest(w, fmt.Sprintf("Invalid $orderby '%s': %v", q.Get("$orderby"), err))
		return
	}
	top := sentinelPageSize
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			armBadRequest(w, fmt.Sprintf("The value '%s' of $top is not valid: it must be a positive integer.", v))
			return
		}
		top = min(n, sentinelMaxTop)
	}
	skip := 0
	if tok := q.Get("$skipToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "o:") || n < 0 {
			armBadRequest(w, "The $skipToken is not valid.")
			return
		}
		skip = n
	}

	s.world.Lock()
	var all []*Incident
	for _, n := range s.world.incidentOrder {
		if inc := s.world.incidents[n]; inc != nil && (pred == nil || pred(inc)) {
			all = append(all, inc)
		}
	}
	if order != nil {
		slices.SortStableFunc(all, order)
	}
	lo, hi := min(skip, len(all)), min(skip+top, len(all))
	values := make([]map[string]any, 0, hi-lo)
	for _, inc := range all[lo:hi] {
		values = append(values, s.sentinelIncidentJSON(inc))
	}
	more := hi < len(all)
	s.world.Unlock()

	body := map[string]any{"value": values}
	if more {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$skipToken", base64.RawURLEncoding.EncodeToString([]byte("o:"+strconv.Itoa(hi))))
		body["nextLink"] = s.sentinelBase(r) + r.URL.Path + "?" + nq.Encode()
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Simulator) sentinelBase(r *http.Request) string {
	if b := s.base(); b != "" {
		return b
	}
	return "https://" + r.Host
}

type sentinelIncidentBody struct {
	ETag       string `json:"etag"`
	Properties *struct {
		Title                 *string `json:"title"`
		Description           *string `json:"description"`
		Severity              *string `json:"severity"`
		Status                *string `json:"status"`
		Classification        *string `json:"classification"`
		ClassificationReason  *string `json:"classificationReason"`
		ClassificationComment *string `json:"classificationComment"`
		Owner                 *Owner  `json:"owner"`
		Labels                *[]struct {
			LabelName string `json:"labelName"`
			LabelType string `json:"labelType"`
		} `json:"labels"`
		FirstActivityTimeUTC *string `json:"firstActivityTimeUtc"`
		LastActivityTimeUTC  *string `json:"lastActivityTimeUtc"`
	} `json:"properties"`
}

func sentinelDeref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// sentinelIncidentUpdate validates a PUT body as the service does.
func sentinelIncidentUpdate(b *sentinelIncidentBody) (u IncidentUpdate, first, last time.Time, msg string) {
	p := b.Properties
	if p == nil {
		return u, first, last, "The request body must contain 'properties'."
	}
	if strings.TrimSpace(sentinelDeref(p.Title)) == "" {
		return u, first, last, "The Title field is required."
	}
	var ok bool
	if u.Severity, ok = sentinelEnum(sentinelDeref(p.Severity), sentinelSeverities); !ok {
		return u, first, last, fmt.Sprintf("The Severity field is required and must be one of %s; got '%s'.", strings.Join(sentinelSeverities, ", "), sentinelDeref(p.Severity))
	}
	if u.Status, ok = sentinelEnum(sentinelDeref(p.Status), sentinelStatuses); !ok {
		return u, first, last, fmt.Sprintf("The Status field is required and must be one of %s; got '%s'.", strings.Join(sentinelStatuses, ", "), sentinelDeref(p.Status))
	}
	u.Title, u.Description, u.ClassificationComment = *p.Title, sentinelDeref(p.Description), sentinelDeref(p.ClassificationComment)
	if c := sentinelDeref(p.Classification); c != "" {
		if u.Classification, ok = sentinelEnum(c, sentinelClassifications); !ok {
			return u, first, last, fmt.Sprintf("Classification '%s' is not valid; it must be one of %s.", c, strings.Join(sentinelClassifications, ", "))
		}
	}
	if cr := sentinelDeref(p.ClassificationReason); cr != "" {
		var all []string
		for _, c := range sentinelClassifications {
			all = append(all, sentinelReasons[c]...)
		}
		if u.ClassificationReason, ok = sentinelEnum(cr, all); !ok {
			return u, first, last, fmt.Sprintf("ClassificationReason '%s' is not valid; it must be one of %s.", cr, strings.Join(all, ", "))
		}
		if u.Classification != "" && !slices.Contains(sentinelReasons[u.Classification], u.ClassificationReason) {
			return u, first, last, fmt.Sprintf("classificationReason '%s' does not match classification '%s'.", u.ClassificationReason, u.Classification)
		}
	}
	if u.Status == IncidentClosed {
		if u.Classification == "" {
			return u, first, last, "Classification is required when closing an incident (status 'Closed')."
		}
		if u.Classification == "BenignPositive" && u.ClassificationReason == "" {
			return u, first, last, "classification 'BenignPositive' must have classificationReason."
		}
	}
	if p.Owner != nil {
		o := *p.Owner
		if o.OwnerType != "" {
			if o.OwnerType, ok = sentinelEnum(o.OwnerType, sentinelOwnerTypes); !ok {
				return u, first, last, fmt.Sprintf("OwnerType '%s' is not valid; it must be one of %s.", p.Owner.OwnerType, strings.Join(sentinelOwnerTypes, ", "))
			}
		}
		u.Owner = &o
	}
	if p.Labels != nil {
		u.Labels = []map[string]any{}
		for _, l := range *p.Labels {
			if strings.TrimSpace(l.LabelName) == "" {
				return u, first, last, "The LabelName field is required."
			}
			// labelType is read-only: labels set through the API are the user's.
			u.Labels = append(u.Labels, map[string]any{"labelName": l.LabelName, "labelType": "User"})
		}
	}
	for _, f := range []struct {
		in  *string
		out *time.Time
		n   string
	}{{p.FirstActivityTimeUTC, &first, "firstActivityTimeUtc"}, {p.LastActivityTimeUTC, &last, "lastActivityTimeUtc"}} {
		if sentinelDeref(f.in) == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, *f.in)
		if err != nil {
			return u, first, last, fmt.Sprintf("The value '%s' of %s is not a valid date-time.", *f.in, f.n)
		}
		*f.out = t.UTC()
	}
	return u, first, last, ""
}

func (s *Simulator) sentinelPutIncident(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("incident")
	var body sentinelIncidentBody
	if err := decodeJSON(r, &body); err != nil {
		armBadRequest(w, "The request body is not valid JSON: "+err.Error())
		return
	}
	u, first, last, msg := sentinelIncidentUpdate(&body)
	if msg != "" {
		armBadRequest(w, msg)
		return
	}
	if portalEdit(r.Context()) {
		// An analyst saves the incident in the portal just before this
		// write lands, so the caller's etag is now stale.
		_ = s.world.PortalEditIncident(name)
	}
	etag := body.ETag
	if etag != "" && etag != "*" {
		etag = `"` + sentinelUnquote(etag) + `"`
	}
	_, created, err := s.world.UpdateIncident(name, etag, u)
	if err != nil {
		s.sentinelWorldError(w, err, "Incident", name)
		return
	}
	if !first.IsZero() || !last.IsZero() {
		// Activity times are data, not a modification of their own.
		_ = s.world.WithIncident(name, func(inc *Incident) (bool, error) {
			if !first.IsZero() {
				inc.FirstActivity = first
			}
			if !last.IsZero() {
				inc.LastActivity = last
			}
			return false, nil
		})
	}
	v, ok := s.sentinelRender(name)
	if !ok {
		sentinelNotFound(w, "Incident", name)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, v)
}

func (s *Simulator) sentinelDeleteIncident(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("incident")
	wd := s.world
	wd.Lock()
	_, ok := wd.incidents[name]
	if ok {
		delete(wd.incidents, name)
		wd.incidentOrder = slices.DeleteFunc(wd.incidentOrder, func(n string) bool { return n == name })
		for _, a := range wd.defender {
			if a.IncidentName == name {
				a.IncidentName = ""
			}
		}
		wd.emit("incident.delete", name)
	}
	wd.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// The alerts of an incident.

// sentinelAlertJSON renders a Sentinel alert as the SecurityAlert entity
// the incident alerts API returns. The caller holds the world's lock.
func (s *Simulator) sentinelAlertJSON(sa *SentinelAlert) map[string]any {
	processed := sa.TimeGenerated
	if a := s.world.defender[sa.ProviderAlertID]; a != nil && !a.ProcessingEndTime.IsZero() {
		processed = a.ProcessingEndTime
	}
	tactics := []string{}
	for _, t := range sa.Tactics {
		if t != "" {
			tactics = append(tactics, t)
		}
	}
	ws := s.sentinelWorkspaceID()
	return map[string]any{
		"id":   ws + "/providers/Microsoft.SecurityInsights/Entities/" + sa.ID,
		"name": sa.ID, "type": sentinelTypeEntity, "kind": "SecurityAlert",
		"properties": map[string]any{
			"systemAlertId":     sa.ID,
			"providerAlertId":   sa.ProviderAlertID,
			"tactics":           tactics,
			"alertDisplayName":  sa.DisplayName,
			"friendlyName":      sa.DisplayName,
			"confidenceLevel":   "Unknown",
			"severity":          sa.Severity,
			"vendorName":        "Microsoft",
			"productName":       sa.ProductName,
			"alertType":         sa.AlertType,
			"processingEndTime": sentinelTime(processed),
			"status":            sa.Status,
			"endTimeUtc":        sentinelTime(sa.EndTime),
			"startTimeUtc":      sentinelTime(sa.StartTime),
			"timeGenerated":     sentinelTime(sa.TimeGenerated),
			"resourceIdentifiers": []map[string]any{{
				"type": "LogAnalytics", "workspaceId": sentinelDerivedGUID("workspace:" + strings.ToLower(ws)),
				"subscriptionId": s.opt.SubscriptionID, "resourceGroup": s.opt.ResourceGroup,
			}},
			"additionalData": map[string]any{
				"AlertMessageEnqueueTime": sa.TimeGenerated.UTC().Format("2006-01-02T15:04:05.000") + "Z",
			},
		},
	}
}

func (s *Simulator) sentinelListAlerts(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("incident")
	s.world.Lock()
	inc := s.world.incidents[name]
	if inc == nil {
		s.world.Unlock()
		sentinelNotFound(w, "Incident", name)
		return
	}
	values := []map[string]any{}
	for _, aid := range inc.AlertIDs {
		if sa := s.world.sentinelAlerts[aid]; sa != nil {
			values = append(values, s.sentinelAlertJSON(sa))
		}
	}
	s.world.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"value": values})
}

// Children of an incident: comments, relations, tasks.

// sentinelChildren renders an incident's children with render, under the
// lock; it reports false when the incident does not exist.
func (s *Simulator) sentinelChildren(w http.ResponseWriter, r *http.Request, render func(inc *Incident) any) {
	name := r.PathValue("incident")
	s.world.Lock()
	inc := s.world.incidents[name]
	var v any
	if inc != nil {
		v = render(inc)
	}
	s.world.Unlock()
	if inc == nil {
		sentinelNotFound(w, "Incident", name)
		return
	}
	if v == nil {
		sentinelNotFound(w, "Resource", r.PathValue("child"))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// sentinelDecode decodes a child resource's PUT body.
func sentinelDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeJSON(r, v); err != nil {
		armBadRequest(w, "The request body is not valid JSON: "+err.Error())
		return false
	}
	return true
}

// sentinelWriteChild runs a child write through WithIncident and answers
// 201 when it created the child, 200 when it updated it.
func (s *Simulator) sentinelWriteChild(w http.ResponseWriter, r *http.Request, what string, fn func(inc *Incident) (created bool, v any, err error)) {
	name, child := r.PathValue("incident"), r.PathValue("child")
	var (
		created bool
		out     any
	)
	err := s.world.WithIncident(name, func(inc *Incident) (bool, error) {
		c, v, err := fn(inc)
		created, out = c, v
		return err == nil, err
	})
	switch {
	case err == nil:
		code := http.StatusOK
		if created {
			code = http.StatusCreated
		}
		writeJSON(w, code, out)
	case errors.Is(err, errSentinelChildMissing):
		sentinelNotFound(w, what, child)
	case errors.Is(err, ErrNotFound):
		sentinelNotFound(w, "Incident", name)
	case errors.Is(err, ErrConflict):
		sentinelConflict(w, child)
	default:
		s.sentinelWorldError(w, err, what, child)
	}
}

// sentinelDeleteChild deletes a child through WithIncident: 200 when it
// existed, 204 when it did not, as ARM deletes answer.
func (s *Simulator) sentinelDeleteChild(w http.ResponseWriter, r *http.Request, fn func(inc *Incident, child string) bool) {
	name, child := r.PathValue("incident"), r.PathValue("child")
	var found bool
	err := s.world.WithIncident(name, func(inc *Incident) (bool, error) {
		found = fn(inc, child)
		return found, nil
	})
	switch {
	case err != nil:
		sentinelNotFound(w, "Incident", name)
	case found:
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

var errSentinelChildMissing = errors.New("child not found")

// Comments.

func (s *Simulator) sentinelCommentJSON(incName string, c Comment) map[string]any {
	return map[string]any{
		"id":   s.sentinelIncidentID(incName) + "/comments/" + c.Name,
		"name": c.Name, "type": sentinelTypeComment, "etag": sentinelUnquote(c.ETag),
		"properties": map[string]any{
			"message": c.Message, "createdTimeUtc": sentinelTime(c.Created), "lastModifiedTimeUtc": sentinelTime(c.Created),
			"author": sentinelClientInfo(c.Author),
		},
	}
}

func (s *Simulator) sentinelListComments(w http.ResponseWriter, r *http.Request) {
	s.sentinelChildren(w, r, func(inc *Incident) any {
		values := make([]map[string]any, 0, len(inc.Comments))
		for _, c := range inc.Comments {
			values = append(values, s.sentinelCommentJSON(inc.Name, c))
		}
		return map[string]any{"value": values}
	})
}

func (s *Simulator) sentinelGetComment(w http.ResponseWriter, r *http.Request) {
	s.sentinelChildren(w, r, func(inc *Incident) any {
		for _, c := range inc.Comments {
			if c.Name == r.PathValue("child") {
				return s.sentinelCommentJSON(inc.Name, c)
			}
		}
		return nil
	})
}

func (s *Simulator) sentinelPutComment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ETag       string `json:"etag"`
		Properties *struct {
			Message string `json:"message"`
		} `json:"properties"`
	}
	if !sentinelDecode(w, r, &body) {
		return
	}
	if body.Properties == nil || strings.TrimSpace(body.Properties.Message) == "" {
		armBadRequest(w, "The Message field is required.")
		return
	}
	child, etag, now := r.PathValue("child"), s.world.NewETag(), s.world.now()
	s.sentinelWriteChild(w, r, "Comment", func(inc *Incident) (bool, any, error) {
		for i := range inc.Comments {
			c := &inc.Comments[i]
			if c.Name != child {
				continue
			}
			if !sentinelETagMatches(body.ETag, c.ETag) {
				return false, nil, ErrConflict
			}
			c.Message, c.ETag = body.Properties.Message, etag
			return false, s.sentinelCommentJSON(inc.Name, *c), nil
		}
		if body.ETag != "" && body.ETag != "*" {
			return false, nil, errSentinelChildMissing
		}
		c := Comment{Name: child, Message: body.Properties.Message, Author: s.opt.ClientID, Created: now, ETag: etag}
		inc.Comments = append(inc.Comments, c)
		return true, s.sentinelCommentJSON(inc.Name, c), nil
	})
}

func (s *Simulator) sentinelDeleteComment(w http.ResponseWriter, r *http.Request) {
	s.sentinelDeleteChild(w, r, func(inc *Incident, child string) bool {
		n := len(inc.Comments)
		inc.Comments = slices.DeleteFunc(inc.Comments, func(c Comment) bool { return c.Name == child })
		return len(inc.Comments) != n
	})
}

// Relations. An incident's alerts are relations too (to the alert's
// entity, kind SecurityAlert), whether they came with the incident or
// were related later; relating or unrelating an alert entity adds it to or
// removes it from the incident.

// sentinelRelations lists an incident's relations, deriving those of its
// alerts that have no relation of their own. The caller holds the lock.
func (s *Simulator) sentinelRelations(inc *Incident) []Relation {
	out := slices.Clone(inc.Relations)
	for _, aid := range inc.AlertIDs {
		if slices.ContainsFunc(inc.Relations, func(r Relation) bool { return r.RelatedKind == "SecurityAlert" && r.RelatedName == aid }) {
			continue
		}
		key := inc.Name + "/" + aid
		out = append(out, Relation{
			Name:      sentinelDerivedGUID("relation:" + key),
			RelatedID: s.sentinelWorkspaceID() + "/providers/Microsoft.SecurityInsights/entities/" + aid, RelatedName: aid,
			RelatedType: sentinelTypeEntities, RelatedKind: "SecurityAlert",
			ETag: sentinelDerivedGUID("etag:" + key),
		})
	}
	return out
}

func (s *Simulator) sentinelRelationJSON(incName string, rel Relation) map[string]any {
	props := map[string]any{"relatedResourceId": rel.RelatedID, "relatedResourceName": rel.RelatedName, "relatedResourceType": rel.RelatedType}
	if rel.RelatedKind != "" {
		props["relatedResourceKind"] = rel.RelatedKind
	}
	return map[string]any{
		"id":   s.sentinelIncidentID(incName) + "/relations/" + rel.Name,
		"name": rel.Name, "type": sentinelTypeRelation, "etag": sentinelUnquote(rel.ETag), "properties": props,
	}
}

func (s *Simulator) sentinelListRelations(w http.ResponseWriter, r *http.Request) {
	s.sentinelChildren(w, r, func(inc *Incident) any {
		rels := s.sentinelRelations(inc)
		values := make([]map[string]any, 0, len(rels))
		for _, rel := range rels {
			values = append(values, s.sentinelRelationJSON(inc.Name, rel))
		}
		return map[string]any{"value": values}
	})
}

func (s *Simulator) sentinelGetRelation(w http.ResponseWriter, r *http.Request) {
	s.sentinelChildren(w, r, func(inc *Incident) any {
		for _, rel := range s.sentinelRelations(inc) {
			if rel.Name == r.PathValue("child") {
				return s.sentinelRelationJSON(inc.Name, rel)
			}
		}
		return nil
	})
}

// sentinelRelated parses a relatedResourceId: a bookmark or an alert
// entity of this workspace.
func (s *Simulator) sentinelRelated(id string) (rel Relation, msg string) {
	prefix := s.sentinelWorkspaceID() + "/providers/Microsoft.SecurityInsights/"
	if len(id) <= len(prefix) || !strings.EqualFold(id[:len(prefix)], prefix) {
		return rel, fmt.Sprintf("The related resource '%s' is not a Microsoft.SecurityInsights resource of this workspace.", id)
	}
	kind, name, ok := strings.Cut(id[len(prefix):], "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return rel, fmt.Sprintf("The related resource '%s' is not valid.", id)
	}
	rel = Relation{RelatedID: id, RelatedName: name}
	switch strings.ToLower(kind) {
	case "bookmarks":
		rel.RelatedType = sentinelTypeBookmark
	case "entities":
		if _, ok := s.world.SentinelAlertByID(name); !ok {
			return rel, fmt.Sprintf("The related entity '%s' was not found.", name)
		}
		rel.RelatedType, rel.RelatedKind = sentinelTypeEntities, "SecurityAlert"
	default:
		return rel, fmt.Sprintf("Relations to resources of type '%s' are not supported; relate bookmarks or entities.", kind)
	}
	return rel, ""
}

func (s *Simulator) sentinelPutRelation(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ETag       string `json:"etag"`
		Properties *struct {
			RelatedResourceID string `json:"relatedResourceId"`
		} `json:"properties"`
	}
	if !sentinelDecode(w, r, &body) {
		return
	}
	if body.Properties == nil || body.Properties.RelatedResourceID == "" {
		armBadRequest(w, "The RelatedResourceId field is required.")
		return
	}
	rel, msg := s.sentinelRelated(body.Properties.RelatedResourceID)
	if msg != "" {
		armBadRequest(w, msg)
		return
	}
	child := r.PathValue("child")
	rel.Name, rel.ETag = child, s.world.NewETag()
	s.sentinelWriteChild(w, r, "Relation", func(inc *Incident) (bool, any, error) {
		var existing *Relation
		for _, old := range s.sentinelRelations(inc) {
			if old.Name == child {
				existing = &old
				break
			}
		}
		if existing == nil && body.ETag != "" && body.ETag != "*" {
			return false, nil, errSentinelChildMissing
		}
		if existing != nil {
			if !sentinelETagMatches(body.ETag, existing.ETag) {
				return false, nil, ErrConflict
			}
			inc.Relations = slices.DeleteFunc(inc.Relations, func(r Relation) bool { return r.Name == child })
			if existing.RelatedKind == "SecurityAlert" && existing.RelatedName != rel.RelatedName {
				inc.AlertIDs = slices.DeleteFunc(inc.AlertIDs, func(id string) bool { return id == existing.RelatedName })
			}
		}
		inc.Relations = append(inc.Relations, rel)
		if rel.RelatedKind == "SecurityAlert" && !slices.Contains(inc.AlertIDs, rel.RelatedName) {
			inc.AlertIDs = append(inc.AlertIDs, rel.RelatedName)
		}
		return existing == nil, s.sentinelRelationJSON(inc.Name, rel), nil
	})
}

func (s *Simulator) sentinelDeleteRelation(w http.ResponseWriter, r *http.Request) {
	s.sentinelDeleteChild(w, r, func(inc *Incident, child string) bool {
		for _, rel := range s.sentinelRelations(inc) {
			if rel.Name != child {
				continue
			}
			inc.Relations = slices.DeleteFunc(inc.Relations, func(r Relation) bool { return r.Name == child })
			if rel.RelatedKind == "SecurityAlert" {
				inc.AlertIDs = slices.DeleteFunc(inc.AlertIDs, func(id string) bool { return id == rel.RelatedName })
			}
			return true
		}
		return false
	})
}

// Tasks.

func (s *Simulator) sentinelTaskJSON(incName string, t Task) map[string]any {
	by := func() map[string]any {
		info := sentinelClientInfo("")
		for k, v := range t.CreatedBy {
			info[k] = v
		}
		return info
	}
	props := map[string]any{
		"title": t.Title, "status": t.Status,
		"createdTimeUtc": sentinelTime(t.Created), "lastModifiedTimeUtc": sentinelTime(t.Modified),
		"createdBy": by(), "lastModifiedBy": by(),
	}
	if t.Description != "" {
		props["description"] = t.Description
	}
	return map[string]any{
		"id":   s.sentinelIncidentID(incName) + "/tasks/" + t.Name,
		"name": t.Name, "type": sentinelTypeTask, "etag": `"` + sentinelUnquote(t.ETag) + `"`, "properties": props,
	}
}

func (s *Simulator) sentinelListTasks(w http.ResponseWriter, r *http.Request) {
	s.sentinelChildren(w, r, func(inc *Incident) any {
		values := make([]map[string]any, 0, len(inc.Tasks))
		for _, t := range inc.Tasks {
			values = append(values, s.sentinelTaskJSON(inc.Name, t))
		}
		return map[string]any{"value": values}
	})
}

func (s *Simulator) sentinelGetTask(w http.ResponseWriter, r *http.Request) {
	s.sentinelChildren(w, r, func(inc *Incident) any {
		for _, t := range inc.Tasks {
			if t.Name == r.PathValue("child") {
				return s.sentinelTaskJSON(inc.Name, t)
			}
		}
		return nil
	})
}

func (s *Simulator) sentinelPutTask(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ETag       string `json:"etag"`
		Properties *struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			Status      string `json:"status"`
		} `json:"properties"`
	}
	if !sentinelDecode(w, r, &body) {
		return
	}
	p := body.Properties
	if p == nil || strings.TrimSpace(p.Title) == "" {
		armBadRequest(w, "The Title field is required.")
		return
	}
	status, ok := sentinelEnum(p.Status, sentinelTaskStatuses)
	if !ok {
		armBadRequest(w, fmt.Sprintf("The Status field is required and must be one of %s; got '%s'.", strings.Join(sentinelTaskStatuses, ", "), p.Status))
		return
	}
	child, etag, now := r.PathValue("child"), s.world.NewETag(), s.world.now()
	s.sentinelWriteChild(w, r, "Task", func(inc *Incident) (bool, any, error) {
		for i := range inc.Tasks {
			t := &inc.Tasks[i]
			if t.Name != child {
				continue
			}
			if !sentinelETagMatches(body.ETag, t.ETag) {
				return false, nil, ErrConflict
			}
			t.Title, t.Description, t.Status, t.Modified, t.ETag = p.Title, p.Description, status, now, etag
			return false, s.sentinelTaskJSON(inc.Name, *t), nil
		}
		if body.ETag != "" && body.ETag != "*" {
			return false, nil, errSentinelChildMissing
		}
		t := Task{Name: child, Title: p.Title, Description: p.Description, Status: status, Created: now, Modified: now,
			CreatedBy: sentinelClientInfo(s.opt.ClientID), ETag: etag}
		inc.Tasks = append(inc.Tasks, t)
		return true, s.sentinelTaskJSON(inc.Name, t), nil
	})
}

func (s *Simulator) sentinelDeleteTask(w http.ResponseWriter, r *http.Request) {
	s.sentinelDeleteChild(w, r, func(inc *Incident, child string) bool {
		n := len(inc.Tasks)
		inc.Tasks = slices.DeleteFunc(inc.Tasks, func(t Task) bool { return t.Name == child })
		return len(inc.Tasks) != n
	})
}

// OData $filter and $orderby over incidents.

type sentinelPred func(*Incident) bool

var (
	sentinelStringFields = map[string]func(*Incident) string{
		"name":                               func(i *Incident) string { return i.Name },
		"properties/title":                   func(i *Incident) string { return i.Title },
		"properties/description":             func(i *Incident) string { return i.Description },
		"properties/severity":                func(i *Incident) string { return i.Severity },
		"properties/status":                  func(i *Incident) string { return i.Status },
		"properties/classification":          func(i *Incident) string { return i.Classification },
		"properties/classificationreason":    func(i *Incident) string { return i.ClassificationReason },
		"properties/providername":            func(i *Incident) string { return i.ProviderName },
		"properties/providerincidentid":      func(i *Incident) string { return i.ProviderIncidentID },
		"properties/owner/objectid":          func(i *Incident) string { return i.Owner.ObjectID },
		"properties/owner/email":             func(i *Incident) string { return i.Owner.Email },
		"properties/owner/assignedto":        func(i *Incident) string { return i.Owner.AssignedTo },
		"properties/owner/userprincipalname": func(i *Incident) string { return i.Owner.UserPrincipalName },
		"properties/owner/ownertype":         func(i *Incident) string { return i.Owner.OwnerType },
		"properties/classificationcomment":   func(i *Incident) string { return i.ClassificationComment },
	}
	sentinelTimeFields = map[string]func(*Incident) time.Time{
		"properties/createdtimeutc":       func(i *Incident) time.Time { return i.Created },
		"properties/lastmodifiedtimeutc":  func(i *Incident) time.Time { return i.LastModified },
		"properties/firstactivitytimeutc": func(i *Incident) time.Time { return i.FirstActivity },
		"properties/lastactivitytimeutc":  func(i *Incident) time.Time { return i.LastActivity },
	}
	sentinelNumberFields = map[string]func(*Incident) int{
		"properties/incidentnumber":             func(i *Incident) int { return i.Number },
		"properties/additionaldata/alertscount": func(i *Incident) int { return len(i.AlertIDs) },
	}
)

type sentinelToken struct {
	text   string
	quoted bool // a string literal
}

func sentinelTokenize(s string) ([]sentinelToken, error) {
	var toks []sentinelToken
	readQuoted := func(i int) (string, int, error) { // s[i] == '\''
		var b strings.Builder
		for j := i + 1; j < len(s); j++ {
			if s[j] == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					b.WriteByte('\'')
					j++
					continue
				}
				return b.String(), j + 1, nil
			}
			b.WriteByte(s[j])
		}
		return "", 0, errors.New("unterminated string literal")
	}
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, sentinelToken{text: string(c)})
			i++
		case c == '\'':
			v, next, err := readQuoted(i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, sentinelToken{text: v, quoted: true})
			i = next
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r(),'", rune(s[j])) {
				j++
			}
			word := s[i:j]
			if j < len(s) && s[j] == '\'' && strings.EqualFold(word, "datetime") {
				v, next, err := readQuoted(j)
				if err != nil {
					return nil, err
				}
				toks = append(toks, sentinelToken{text: v, quoted: true})
				i = next
				continue
			}
			toks = append(toks, sentinelToken{text: word})
			i = j
		}
	}
	return toks, nil
}

type sentinelFilterParser struct {
	toks []sentinelToken
	pos  int
}

func (p *sentinelFilterParser) peekWord(w string) bool {
	return p.pos < len(p.toks) && !p.toks[p.pos].quoted && strings.EqualFold(p.toks[p.pos].text, w)
}

func (p *sentinelFilterParser) next() (sentinelToken, bool) {
	if p.pos >= len(p.toks) {
		return sentinelToken{}, false
	}
	p.pos++
	return p.toks[p.pos-1], true
}

// parseSentinelFilter parses the subset of OData $filter the simulator
// supports: comparisons (eq, ne, gt, ge, lt, le) of incident properties
// with literals, combined with and, or, not and parentheses.
func parseSentinelFilter(f string) (sentinelPred, error) {
	toks, err := sentinelTokenize(f)
	if err != nil {
		return nil, err
	}
	p := &sentinelFilterParser{toks: toks}
	pred, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("unexpected '%s'", p.toks[p.pos].text)
	}
	return pred, nil
}

func (p *sentinelFilterParser) or() (sentinelPred, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peekWord("or") {
		p.pos++
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(i *Incident) bool { return l(i) || right(i) }
	}
	return left, nil
}

func (p *sentinelFilterParser) and() (sentinelPred, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peekWord("and") {
		p.pos++
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(i *Incident) bool { return l(i) && right(i) }
	}
	return left, nil
}

func (p *sentinelFilterParser) unary() (sentinelPred, error) {
	switch {
	case p.peekWord("not"):
		p.pos++
		inner, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(i *Incident) bool { return !inner(i) }, nil
	case p.peekWord("("):
		p.pos++
		inner, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.peekWord(")") {
			return nil, errors.New("missing ')'")
		}
		p.pos++
		return inner, nil
	}
	return p.comparison()
}

func (p *sentinelFilterParser) comparison() (sentinelPred, error) {
	ft, ok := p.next()
	if !ok || ft.quoted {
		return nil, errors.New("expected a property name")
	}
	field := strings.ToLower(ft.text)
	ot, ok := p.next()
	op := strings.ToLower(ot.text)
	if !ok || ot.quoted || !slices.Contains([]string{"eq", "ne", "gt", "ge", "lt", "le"}, op) {
		return nil, fmt.Errorf("expected a comparison operator after '%s'", ft.text)
	}
	vt, ok := p.next()
	if !ok || (!vt.quoted && (vt.text == "(" || vt.text == ")" || vt.text == ",")) {
		return nil, fmt.Errorf("expected a value after '%s %s'", ft.text, ot.text)
	}
	cmpOK := func(c int) bool {
		switch op {
		case "eq":
			return c == 0
		case "ne":
			return c != 0
		case "gt":
			return c > 0
		case "ge":
			return c >= 0
		case "lt":
			return c < 0
		}
		return c <= 0
	}
	if get, ok := sentinelStringFields[field]; ok {
		if op != "eq" && op != "ne" {
			return nil, fmt.Errorf("operator '%s' is not supported for '%s'", op, ft.text)
		}
		var want string
		switch {
		case vt.quoted:
			want = vt.text
		case strings.EqualFold(vt.text, "null"):
		default:
			return nil, fmt.Errorf("'%s' must be compared with a string literal", ft.text)
		}
		return func(i *Incident) bool {
			if strings.EqualFold(get(i), want) {
				return cmpOK(0)
			}
			return cmpOK(1)
		}, nil
	}
	if get, ok := sentinelTimeFields[field]; ok {
		t, err := time.Parse(time.RFC3339Nano, vt.text)
		if err != nil {
			return nil, fmt.Errorf("'%s' is not a valid date-time", vt.text)
		}
		return func(i *Incident) bool { return cmpOK(get(i).Compare(t)) }, nil
	}
	if get, ok := sentinelNumberFields[field]; ok {
		n, err := strconv.Atoi(vt.text)
		if err != nil || vt.quoted {
			return nil, fmt.Errorf("'%s' is not a valid number", vt.text)
		}
		return func(i *Incident) bool { return cmpOK(get(i) - n) }, nil
	}
	return nil, fmt.Errorf("could not find a property named '%s'", ft.text)
}

// parseSentinelOrderBy parses "field [asc|desc][, ...]"; ties keep the
// incident number order in the first key's direction.
func parseSentinelOrderBy(o string) (func(a, b *Incident) int, error) {
	if strings.TrimSpace(o) == "" {
		return nil, nil
	}
	var keys []func(a, b *Incident) int
	firstDesc := false
	for n, part := range strings.Split(o, ",") {
		f := strings.Fields(part)
		if len(f) == 0 || len(f) > 2 {
			return nil, fmt.Errorf("'%s' is not 'property [asc|desc]'", strings.TrimSpace(part))
		}
		desc := false
		if len(f) == 2 {
			switch strings.ToLower(f[1]) {
			case "asc":
			case "desc":
				desc = true
			default:
				return nil, fmt.Errorf("'%s' is not asc or desc", f[1])
			}
		}
		if n == 0 {
			firstDesc = desc
		}
		field := strings.ToLower(f[0])
		var key func(a, b *Incident) int
		if get, ok := sentinelTimeFields[field]; ok {
			key = func(a, b *Incident) int { return get(a).Compare(get(b)) }
		} else if get, ok := sentinelNumberFields[field]; ok {
			key = func(a, b *Incident) int { return get(a) - get(b) }
		} else if get, ok := sentinelStringFields[field]; ok {
			key = func(a, b *Incident) int { return strings.Compare(strings.ToLower(get(a)), strings.ToLower(get(b))) }
		} else {
			return nil, fmt.Errorf("could not find a property named '%s'", f[0])
		}
		if desc {
			k := key
			key = func(a, b *Incident) int { return -k(a, b) }
		}
		keys = append(keys, key)
	}
	return func(a, b *Incident) int {
		for _, k := range keys {
			if c := k(a, b); c != 0 {
				return c
			}
		}
		if firstDesc {
			return b.Number - a.Number
		}
		return a.Number - b.Number
	}, nil
}
