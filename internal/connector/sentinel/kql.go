package sentinel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"

	"github.com/vigil-soc/vigil/internal/loganalytics"
)

// The fast resync reads the open incidents and their alerts from the
// workspace's SecurityIncident and SecurityAlert tables through the Log
// Analytics query API, in two queries, instead of one ARM alert lookup
// per incident (paced at 20/s, 10,000 incidents take over 8 minutes).
//
// Why two queries and not one join: mv-expand makes no row for an empty
// array (https://learn.microsoft.com/kusto/query/mv-expand-operator,
// "Returns"), so an incident without alerts would vanish from a single
// incident-alert join. The incident query is the authoritative list; the
// alert query brings the alerts its incidents name. An incident whose
// alerts did not all come back (the two queries read a moment apart, or
// an alert is older than the lookback) is returned without alerts, for
// the caller to look them up through ARM.
//
// Column names are those of Microsoft's table references:
// https://learn.microsoft.com/azure/azure-monitor/reference/tables/securityincident
// https://learn.microsoft.com/azure/azure-monitor/reference/tables/securityalert
// The tables keep one row per change; arg_max picks each record's latest.

// ErrNoWorkspaceID is returned by OpenIncidentsWithAlerts when the
// configuration names no Log Analytics workspace id: the caller uses the
// ARM lookups.
var ErrNoWorkspaceID = errors.New("sentinel: no log analytics workspace id configured")

// Lookback bounds how far back the fast resync reads SecurityIncident and
// SecurityAlert: Sentinel's default retention. An open incident with no
// change in that time is not in the tables any more; the delta poll still
// sees its next change through ARM.
const Lookback = 90 * 24 * time.Hour

// maxParts bounds how many pages (hash partitions of the incidents) a
// fast resync splits into when an answer is over the query API's limits
// (500,000 rows, ~100 MiB).
const maxParts = 256

// BulkIncident is an open incident read with its alerts. Alerts is nil
// when the query did not bring every alert the incident names: look them
// up.
type BulkIncident struct {
	Incident *armsecurityinsights.Incident
	Alerts   []*armsecurityinsights.SecurityAlert
}

// logsClient runs queries against the workspace with the connector's own
// credential (scope https://api.loganalytics.io/.default). The
// loganalytics package's client builds its own secret credential; this
// one shares the connector's, whatever kind it is.
type logsClient struct {
	base        string
	workspaceID string
	pipeline    runtime.Pipeline
	requests    atomic.Int64
}

// newLogsClient builds the query client; extra are per-retry policies
// that run after the bearer-token policy (the credential's 401 hook).
func newLogsClient(baseURL, workspaceID string, transport policy.Transporter, cred azcore.TokenCredential, extra ...policy.Policy) (*logsClient, error) {
	base := strings.TrimSuffix(baseURL, "/")
	if base == "" {
		base = loganalytics.DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("sentinel: log analytics url %q must be an absolute https URL", baseURL)
	}
	if strings.ContainsAny(workspaceID, "/?#") {
		return nil, fmt.Errorf("sentinel: %q is not a log analytics workspace id", workspaceID)
	}
	perRetry := append([]policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{loganalytics.Scope}, nil)}, extra...)
	opts := &policy.ClientOptions{Transport: transport, Retry: policy.RetryOptions{
		// The query API throttles at 200 requests per 30 s per identity;
		// a resync sends a handful, so a 429 is brief contention.
		MaxRetries: 3, MaxRetryDelay: 30 * time.Second,
		StatusCodes: []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusUnauthorized},
	}}
	return &logsClient{base: base, workspaceID: workspaceID,
		pipeline: runtime.NewPipeline("vigil-sentinel", "v1", runtime.PipelineOptions{PerRetry: perRetry}, opts)}, nil
}

// errTooLarge is an answer over the size the client reads: split the query.
var errTooLarge = errors.New("sentinel: log analytics answer is over the size limit")

// query runs one query. A truncated result is a *loganalytics.PartialError
// (with the result); an error answer is a *loganalytics.Error.
func (l *logsClient) query(ctx context.Context, q string) (*loganalytics.Result, error) {
	l.requests.Add(1)
	req, err := runtime.NewRequest(ctx, http.MethodPost, l.base+"/v1/workspaces/"+url.PathEscape(l.workspaceID)+"/query")
	if err != nil {
		return nil, fmt.Errorf("sentinel: build query request: %w", err)
	}
	req.Raw().Header.Set("Accept", "application/json")
	if err := runtime.MarshalAsJSON(req, map[string]string{"query": q}); err != nil {
		return nil, fmt.Errorf("sentinel: encode query: %w", err)
	}
	res, err := l.pipeline.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sentinel: log analytics query: %w", err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, loganalytics.MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("sentinel: read log analytics answer: %w", err)
	}
	if len(data) > loganalytics.MaxResponseBytes {
		return nil, errTooLarge
	}
	if res.StatusCode != http.StatusOK {
		return nil, queryError(res.StatusCode, data)
	}
	return loganalytics.Decode(data)
}

// queryError reads the query API's error answer, {"error": {"code",
// "message", "innererror": {...}}}, keeping the innermost detail.
func queryError(status int, data []byte) *loganalytics.Error {
	type wire struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError *wire  `json:"innererror"`
	}
	var body struct {
		Error *wire `json:"error"`
	}
	e := &loganalytics.Error{Status: status, Code: http.StatusText(status)}
	if json.Unmarshal(data, &body) != nil || body.Error == nil {
		msg := string(bytes.TrimSpace(data))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		e.Message = msg
		return e
	}
	e.Code, e.Message = body.Error.Code, body.Error.Message
	for in, depth := body.Error.InnerError, 0; in != nil && depth < 8; in, depth = in.InnerError, depth+1 {
		e.InnerCode, e.InnerMessage = in.Code, in.Message
	}
	return e
}

// IsAccessError reports whether err says the identity may not read the
// workspace through the query API (401, 403), or that the API does not
// know it (404): the caller falls back to ARM lookups.
func IsAccessError(err error) bool {
	var le *loganalytics.Error
	if errors.As(err, &le) {
		return le.Status == http.StatusUnauthorized || le.Status == http.StatusForbidden || le.Status == http.StatusNotFound
	}
	var re *azcore.ResponseError
	return errors.As(err, &re) && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden)
}

// openIncidentsKQL lists the open incidents, latest record of each; part
// and parts select one hash partition when the answer must be split.
func openIncidentsKQL(part, parts int) string {
	return openIncidentsBase(part, parts) + `
| project IncidentName, IncidentNumber, IncidentUrl, Title, Description, Severity, Status, Classification,
    ClassificationReason, ClassificationComment, Owner, Labels, CreatedTime, LastModifiedTime, FirstActivityTime,
    LastActivityTime, ProviderName, ProviderIncidentId, RelatedAnalyticRuleIds, AlertIds`
}

// openIncidentAlertsKQL lists the alerts the same incidents name, latest
// record of each.
func openIncidentAlertsKQL(part, parts int) string {
	return openIncidentsBase(part, parts) + `
| mv-expand SystemAlertId = AlertIds to typeof(string)
| project SystemAlertId
| join kind=inner (
    SecurityAlert
    | where TimeGenerated > ago(` + kqlDays(Lookback) + `)
    | summarize arg_max(TimeGenerated, *) by SystemAlertId
  ) on SystemAlertId
| project SystemAlertId, AlertName, DisplayName, AlertType, Description, AlertSeverity, Status, ProductName,
    ProviderName, VendorName, VendorOriginalId, Tactics, StartTime, EndTime, ProcessingEndTime, TimeGenerated,
    ConfidenceLevel, CompromisedEntity`
}

func openIncidentsBase(part, parts int) string {
	q := `SecurityIncident
| where TimeGenerated > ago(` + kqlDays(Lookback) + `)
| summarize arg_max(LastModifiedTime, *) by IncidentName
| where Status != "Closed"`
	if parts > 1 {
		q += fmt.Sprintf("\n| where hash(IncidentName, %d) == %d", parts, part)
	}
	return q
}

func kqlDays(d time.Duration) string { return fmt.Sprintf("%dd", int(d/(24*time.Hour))) }

// OpenIncidentsWithAlerts reads the open incidents and their alerts
// through the Log Analytics query API (see Lookback and BulkIncident).
// It needs the Log Analytics Reader role (or Microsoft Sentinel Reader)
// on the workspace; without it the answer is an access error (see
// IsAccessError). Without a workspace id it returns ErrNoWorkspaceID.
func (c *Client) OpenIncidentsWithAlerts(ctx context.Context) ([]BulkIncident, error) {
	if c.logs == nil {
		return nil, ErrNoWorkspaceID
	}
	parts := max(1, int(c.logParts.Load()))
	for {
		out, err := c.bulk(ctx, parts)
		var pe *loganalytics.PartialError
		if (errors.As(err, &pe) || errors.Is(err, errTooLarge)) && parts < maxParts {
			// Over the row or size limit: split the incidents into more
			// pages, and remember it for the next resync.
			parts *= 4
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read open sentinel incidents through log analytics: %w", err)
		}
		c.logParts.Store(int64(parts))
		return out, nil
	}
}

// LogQueries reports how many queries the client has sent to the Log
// Analytics query API.
func (c *Client) LogQueries() int64 {
	if c.logs == nil {
		return 0
	}
	return c.logs.requests.Load()
}

func (c *Client) bulk(ctx context.Context, parts int) ([]BulkIncident, error) {
	var out []BulkIncident
	for part := range parts {
		res, err := c.logs.query(ctx, openIncidentsKQL(part, parts))
		if err != nil {
			return nil, err
		}
		incs, ids, err := IncidentsFromRows(res.Primary(), c.workspaceID)
		if err != nil {
			return nil, err
		}
		if len(incs) == 0 {
			continue
		}
		res, err = c.logs.query(ctx, openIncidentAlertsKQL(part, parts))
		if err != nil {
			return nil, err
		}
		alerts, err := AlertsFromRows(res.Primary(), c.workspaceID)
		if err != nil {
			return nil, err
		}
		for i, inc := range incs {
			out = append(out, BulkIncident{Incident: inc, Alerts: alertsOf(ids[i], alerts)})
		}
	}
	return out, nil
}

// alertsOf returns the alerts named by ids, in that order, or nil when
// one of them is missing.
func alertsOf(ids []string, alerts map[string]*armsecurityinsights.SecurityAlert) []*armsecurityinsights.SecurityAlert {
	out := make([]*armsecurityinsights.SecurityAlert, 0, len(ids))
	for _, id := range ids {
		a := alerts[strings.ToLower(id)]
		if a == nil {
			return nil
		}
		out = append(out, a)
	}
	return out
}

// IncidentsFromRows maps the rows of the incident query to the incidents
// ARM would return (without etag and additionalData, which the table does
// not hold), and the alert ids each names. workspaceARMID is the
// workspace's ARM id, for the incidents' ids.
func IncidentsFromRows(t loganalytics.Table, workspaceARMID string) ([]*armsecurityinsights.Incident, [][]string, error) {
	if !hasColumns(t, "IncidentName", "Status", "AlertIds") {
		return nil, nil, fmt.Errorf("sentinel: SecurityIncident answer lacks IncidentName, Status or AlertIds")
	}
	recs := t.Records()
	incs := make([]*armsecurityinsights.Incident, 0, len(recs))
	ids := make([][]string, 0, len(recs))
	for i, r := range recs {
		name := cellString(r["IncidentName"])
		if name == "" {
			return nil, nil, fmt.Errorf("sentinel: SecurityIncident row %d has no IncidentName", i)
		}
		alertIDs, err := dynStrings(r["AlertIds"])
		if err != nil {
			return nil, nil, fmt.Errorf("sentinel: incident %s: AlertIds: %w", name, err)
		}
		p := &armsecurityinsights.IncidentProperties{
			Title: optString(r["Title"]), Description: optString(r["Description"]),
			CreatedTimeUTC: optTime(r["CreatedTime"]), LastModifiedTimeUTC: optTime(r["LastModifiedTime"]),
			FirstActivityTimeUTC: optTime(r["FirstActivityTime"]), LastActivityTimeUTC: optTime(r["LastActivityTime"]),
			IncidentURL: optString(r["IncidentUrl"]), ProviderName: optString(r["ProviderName"]),
			ProviderIncidentID: optString(r["ProviderIncidentId"]), ClassificationComment: optString(r["ClassificationComment"]),
		}
		if s := cellString(r["Severity"]); s != "" {
			p.Severity = to.Ptr(armsecurityinsights.IncidentSeverity(s))
		}
		if s := cellString(r["Status"]); s != "" {
			p.Status = to.Ptr(armsecurityinsights.IncidentStatus(s))
		}
		if s := cellString(r["Classification"]); s != "" {
			p.Classification = to.Ptr(armsecurityinsights.IncidentClassification(s))
		}
		if s := cellString(r["ClassificationReason"]); s != "" {
			p.ClassificationReason = to.Ptr(armsecurityinsights.IncidentClassificationReason(s))
		}
		if n, ok := r["IncidentNumber"].(int64); ok && n > 0 && n <= 1<<31-1 {
			p.IncidentNumber = to.Ptr(int32(n))
		}
		if p.Owner, err = ownerOf(r["Owner"]); err != nil {
			return nil, nil, fmt.Errorf("sentinel: incident %s: Owner: %w", name, err)
		}
		if p.Labels, err = labelsOf(r["Labels"]); err != nil {
			return nil, nil, fmt.Errorf("sentinel: incident %s: Labels: %w", name, err)
		}
		rules, err := dynStrings(r["RelatedAnalyticRuleIds"])
		if err != nil {
			return nil, nil, fmt.Errorf("sentinel: incident %s: RelatedAnalyticRuleIds: %w", name, err)
		}
		p.RelatedAnalyticRuleIDs = to.SliceOfPtrs(rules...)
		incs = append(incs, &armsecurityinsights.Incident{
			ID: to.Ptr(incidentARMID(workspaceARMID, name, cellString(r["IncidentUrl"]))), Name: to.Ptr(name),
			Type: to.Ptr("Microsoft.SecurityInsights/Incidents"), Properties: p,
		})
		ids = append(ids, alertIDs)
	}
	return incs, ids, nil
}

// incidentARMID is the incident's ARM id as the service spells it: the
// portal link (IncidentUrl) ends with it, so that the id a write-back
// addresses is the one the ARM list gives; else it is built from the
// workspace's id.
func incidentARMID(workspace, name, incidentURL string) string {
	want := workspace + "/providers/Microsoft.SecurityInsights/Incidents/" + name
	// Compared without lower-casing the URL, whose length in bytes could
	// change with it.
	if n := len(want); workspace != "" && len(incidentURL) >= n && strings.EqualFold(incidentURL[len(incidentURL)-n:], want) {
		return incidentURL[len(incidentURL)-n:]
	}
	return want
}

// AlertsFromRows maps the rows of the alert query to the alerts the ARM
// incident-alerts list returns, keyed by lower-case SystemAlertId.
func AlertsFromRows(t loganalytics.Table, workspaceARMID string) (map[string]*armsecurityinsights.SecurityAlert, error) {
	if len(t.Rows) > 0 && !hasColumns(t, "SystemAlertId") {
		return nil, fmt.Errorf("sentinel: SecurityAlert answer lacks SystemAlertId")
	}
	out := map[string]*armsecurityinsights.SecurityAlert{}
	for i, r := range t.Records() {
		id := cellString(r["SystemAlertId"])
		if id == "" {
			return nil, fmt.Errorf("sentinel: SecurityAlert row %d has no SystemAlertId", i)
		}
		name := cellString(r["DisplayName"])
		if name == "" {
			name = cellString(r["AlertName"])
		}
		p := &armsecurityinsights.SecurityAlertProperties{
			SystemAlertID: to.Ptr(id), AlertDisplayName: optString(name), FriendlyName: optString(name),
			AlertType: optString(r["AlertType"]), Description: optString(r["Description"]),
			ProductName: optString(r["ProductName"]), VendorName: optString(r["VendorName"]),
			ProviderAlertID: optString(r["VendorOriginalId"]), CompromisedEntity: optString(r["CompromisedEntity"]),
			StartTimeUTC: optTime(r["StartTime"]), EndTimeUTC: optTime(r["EndTime"]),
			ProcessingEndTime: optTime(r["ProcessingEndTime"]), TimeGenerated: optTime(r["TimeGenerated"]),
		}
		if s := cellString(r["AlertSeverity"]); s != "" {
			p.Severity = to.Ptr(armsecurityinsights.AlertSeverity(s))
		}
		if s := cellString(r["Status"]); s != "" {
			p.Status = to.Ptr(armsecurityinsights.AlertStatus(s))
		}
		if s := cellString(r["ConfidenceLevel"]); s != "" {
			p.ConfidenceLevel = to.Ptr(armsecurityinsights.ConfidenceLevel(s))
		}
		// The table writes tactics as one comma-separated string.
		for _, tac := range strings.Split(cellString(r["Tactics"]), ",") {
			if tac = strings.TrimSpace(tac); tac != "" {
				p.Tactics = append(p.Tactics, to.Ptr(armsecurityinsights.AttackTactic(tac)))
			}
		}
		out[strings.ToLower(id)] = &armsecurityinsights.SecurityAlert{
			ID:   to.Ptr(workspaceARMID + "/providers/Microsoft.SecurityInsights/Entities/" + id),
			Name: to.Ptr(id), Type: to.Ptr("Microsoft.SecurityInsights/Entities"),
			Kind: to.Ptr(armsecurityinsights.EntityKindEnumSecurityAlert), Properties: p,
		}
	}
	return out, nil
}

func hasColumns(t loganalytics.Table, names ...string) bool {
	for _, n := range names {
		found := false
		for _, c := range t.Columns {
			if c.Name == n {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// cellString is a string cell; anything else (null, a number where a
// string belongs) is "".
func cellString(v any) string {
	s, _ := v.(string)
	return s
}

func optString(v any) *string {
	if s := cellString(v); s != "" {
		return to.Ptr(s)
	}
	return nil
}

func optTime(v any) *time.Time {
	if t, ok := v.(time.Time); ok && !t.IsZero() {
		return to.Ptr(t.UTC())
	}
	return nil
}

// dynStrings reads a dynamic column holding an array of strings. The API
// sends dynamic values as JSON text; a null or empty cell is no strings.
func dynStrings(v any) ([]string, error) {
	s := cellString(v)
	if s == "" {
		if v != nil && !isString(v) {
			return nil, fmt.Errorf("not JSON text")
		}
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, err
	}
	return out, nil
}

func isString(v any) bool { _, ok := v.(string); return ok }

// ownerOf reads SecurityIncident's Owner: {"objectId", "email",
// "assignedTo", "userPrincipalName"}, nulls for an unassigned incident.
func ownerOf(v any) (*armsecurityinsights.IncidentOwnerInfo, error) {
	s := cellString(v)
	if s == "" {
		return nil, nil
	}
	var o struct {
		ObjectID          *string `json:"objectId"`
		Email             *string `json:"email"`
		AssignedTo        *string `json:"assignedTo"`
		UserPrincipalName *string `json:"userPrincipalName"`
		OwnerType         *string `json:"ownerType"`
	}
	if err := json.Unmarshal([]byte(s), &o); err != nil {
		return nil, err
	}
	out := &armsecurityinsights.IncidentOwnerInfo{ObjectID: o.ObjectID, Email: o.Email, AssignedTo: o.AssignedTo, UserPrincipalName: o.UserPrincipalName}
	if o.OwnerType != nil {
		out.OwnerType = to.Ptr(armsecurityinsights.OwnerType(*o.OwnerType))
	}
	return out, nil
}

// labelsOf reads SecurityIncident's Labels: [{"labelName", "labelType"}].
func labelsOf(v any) ([]*armsecurityinsights.IncidentLabel, error) {
	s := cellString(v)
	if s == "" {
		return nil, nil
	}
	var ls []struct {
		Name string `json:"labelName"`
		Type string `json:"labelType"`
	}
	if err := json.Unmarshal([]byte(s), &ls); err != nil {
		return nil, err
	}
	out := make([]*armsecurityinsights.IncidentLabel, 0, len(ls))
	for _, l := range ls {
		lab := &armsecurityinsights.IncidentLabel{LabelName: to.Ptr(l.Name)}
		if l.Type != "" {
			lab.LabelType = to.Ptr(armsecurityinsights.IncidentLabelType(l.Type))
		}
		out = append(out, lab)
	}
	return out, nil
}
