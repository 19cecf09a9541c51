package simulator

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defender for Cloud (Microsoft.Security) alerts, api-version 2022-01-01,
// as armsecurity's AlertsClient calls them. The subscription-level and
// resource-group-level forms of get and of the state changes address one
// alert and share a route name; the four listings are distinct routes.
const (
	dfcRouteList          = "defender.alerts.list"
	dfcRouteListRegion    = "defender.alerts.listByRegion"
	dfcRouteListRG        = "defender.alerts.listByResourceGroup"
	dfcRouteListRGRegion  = "defender.alerts.listByResourceGroupRegion"
	dfcRouteGet           = "defender.alerts.get"
	dfcPageSize           = 50
	dfcAlertType          = "Microsoft.Security/Locations/alerts"
	dfcAPIResource        = "Microsoft.Security/alerts"
	dfcTimeLayout         = "2006-01-02T15:04:05.0000000Z"
	dfcSchemaVersion      = "2022-01-01"
	dfcSubPrefix          = "/subscriptions/{sub}/providers/Microsoft.Security"
	dfcRGPrefix           = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Security"
	dfcSkipTokenParameter = "$skipToken"
)

// dfcActions maps the URL action segment to the status it sets; each is
// the route "defender.alerts.<action>".
var dfcActions = map[string]string{
	"activate":   DfCActive,
	"dismiss":    DfCDismissed,
	"resolve":    DfCResolved,
	"inProgress": DfCInProgress,
}

func (s *Simulator) defenderRoutes() {
	s.handle("GET "+dfcSubPrefix+"/alerts", dfcRouteList, audARM, s.dfcList)
	s.handle("GET "+dfcSubPrefix+"/locations/{loc}/alerts", dfcRouteListRegion, audARM, s.dfcList)
	s.handle("GET "+dfcRGPrefix+"/alerts", dfcRouteListRG, audARM, s.dfcList)
	s.handle("GET "+dfcRGPrefix+"/locations/{loc}/alerts", dfcRouteListRGRegion, audARM, s.dfcList)
	s.handle("GET "+dfcSubPrefix+"/locations/{loc}/alerts/{name}", dfcRouteGet, audARM, s.dfcGet)
	s.handle("GET "+dfcRGPrefix+"/locations/{loc}/alerts/{name}", dfcRouteGet, audARM, s.dfcGet)
	for action, status := range dfcActions {
		h := func(w http.ResponseWriter, r *http.Request) { s.dfcSetStatus(w, r, status) }
		s.handle("POST "+dfcSubPrefix+"/locations/{loc}/alerts/{name}/"+action, "defender.alerts."+action, audARM, h)
		s.handle("POST "+dfcRGPrefix+"/locations/{loc}/alerts/{name}/"+action, "defender.alerts."+action, audARM, h)
	}
}

// dfcScope checks the api-version and the subscription and resource group
// in the path, answering as ARM does when one is wrong.
func (s *Simulator) dfcScope(w http.ResponseWriter, r *http.Request) bool {
	if !s.checkAPIVersion(w, r, dfcAPIResource) {
		return false
	}
	if sub := r.PathValue("sub"); !strings.EqualFold(sub, s.opt.SubscriptionID) {
		writeJSON(w, http.StatusNotFound, armErrorBody("SubscriptionNotFound", "The subscription '"+sub+"' could not be found."))
		return false
	}
	if rg := r.PathValue("rg"); rg != "" && !strings.EqualFold(rg, s.opt.ResourceGroup) {
		writeJSON(w, http.StatusNotFound, armErrorBody("ResourceGroupNotFound", "Resource group '"+rg+"' could not be found."))
		return false
	}
	return true
}

// dfcInScope reports whether alert a is under the path's resource group
// and location, when the path names them. ARM names are case-insensitive.
func dfcInScope(r *http.Request, a *DefenderAlert) bool {
	if rg := r.PathValue("rg"); rg != "" && !strings.EqualFold(rg, a.ResourceGroup) {
		return false
	}
	if loc := r.PathValue("loc"); loc != "" && !strings.EqualFold(loc, a.Location) {
		return false
	}
	return true
}

func (s *Simulator) dfcList(w http.ResponseWriter, r *http.Request) {
	if !s.dfcScope(w, r) {
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
	// Oldest first: alerts raised while a client pages are appended after
	// its position, so an offset token stays valid.
	var matched []DefenderAlert
	for _, a := range s.world.DefenderAlerts() {
		if dfcInScope(r, &a) {
			matched = append(matched, a)
		}
	}
	page := []any{}
	end := min(offset+dfcPageSize, len(matched))
	for i := offset; i < end; i++ {
		page = append(page, s.dfcAlertJSON(&matched[i]))
	}
	body := map[string]any{"value": page}
	if end < len(matched) {
		body["nextLink"] = s.dfcNextLink(r, end)
	}
	writeJSON(w, http.StatusOK, body)
}

// dfcNextLink is the request's URL with a $skipToken for the next page.
func (s *Simulator) dfcNextLink(r *http.Request, offset int) string {
	base := s.base()
	if base == "" {
		base = "https://" + r.Host
	}
	// ARM writes the $ of $skipToken unescaped.
	return base + r.URL.EscapedPath() + "?api-version=" + url.QueryEscape(r.URL.Query().Get("api-version")) +
		"&" + dfcSkipTokenParameter + "=" + dfcSkipToken(offset)
}

// The skip token is opaque to clients, as ARM's are; it carries an offset.
func dfcSkipToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("dfc:" + strconv.Itoa(offset)))
}

func dfcParseSkipToken(tok string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(b), "dfc:")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0
}

// dfcLookup finds the alert the path names, answering 404 when it does not
// exist in that scope.
func (s *Simulator) dfcLookup(w http.ResponseWriter, r *http.Request) (DefenderAlert, bool) {
	a, ok := s.world.DefenderAlertByName(r.PathValue("name"))
	if !ok || !dfcInScope(r, &a) {
		armNotFound(w, "Alert '"+r.PathValue("name")+"'")
		return DefenderAlert{}, false
	}
	return a, true
}

func (s *Simulator) dfcGet(w http.ResponseWriter, r *http.Request) {
	if !s.dfcScope(w, r) {
		return
	}
	a, ok := s.dfcLookup(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.dfcAlertJSON(&a))
}

func (s *Simulator) dfcSetStatus(w http.ResponseWriter, r *http.Request, status string) {
	if !s.dfcScope(w, r) {
		return
	}
	a, ok := s.dfcLookup(w, r)
	if !ok {
		return
	}
	if _, err := s.world.SetDefenderStatus(a.Name, status); err != nil {
		writeJSON(w, http.StatusInternalServerError, armErrorBody("InternalServerError", err.Error()))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// defenderAlertID is the alert's ARM id.
func (s *Simulator) defenderAlertID(a *DefenderAlert) string {
	return "/subscriptions/" + s.opt.SubscriptionID + "/resourceGroups/" + a.ResourceGroup +
		"/providers/Microsoft.Security/locations/" + a.Location + "/alerts/" + a.Name
}

// dfcAlert is the alert resource, fields in the order the service writes
// them.
type dfcAlert struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Type       string           `json:"type"`
	Properties dfcAlertProperty `json:"properties"`
}

type dfcAlertProperty struct {
	Version              string              `json:"version"`
	AlertType            string              `json:"alertType"`
	SystemAlertID        string              `json:"systemAlertId"`
	ProductComponentName string              `json:"productComponentName"`
	AlertDisplayName     string              `json:"alertDisplayName"`
	Description          string              `json:"description"`
	Severity             string              `json:"severity"`
	Intent               string              `json:"intent"`
	StartTimeUTC         string              `json:"startTimeUtc"`
	EndTimeUTC           string              `json:"endTimeUtc"`
	ResourceIdentifiers  []any               `json:"resourceIdentifiers"`
	RemediationSteps     []string            `json:"remediationSteps"`
	VendorName           string              `json:"vendorName"`
	Status               string              `json:"status"`
	ExtendedLinks        []map[string]string `json:"extendedLinks"`
	AlertURI             string              `json:"alertUri"`
	TimeGeneratedUTC     string              `json:"timeGeneratedUtc"`
	ProductName          string              `json:"productName"`
	ProcessingEndTimeUTC string              `json:"processingEndTimeUtc"`
	Entities             []map[string]any    `json:"entities"`
	IsIncident           bool                `json:"isIncident"`
	CorrelationKey       string              `json:"correlationKey"`
	ExtendedProperties   map[string]string   `json:"extendedProperties"`
	CompromisedEntity    string              `json:"compromisedEntity"`
	Techniques           []string            `json:"techniques"`
	SubTechniques        []string            `json:"subTechniques"`
	SupportingEvidence   map[string]any      `json:"supportingEvidence"`
}

type dfcAzureResourceIdentifier struct {
	AzureResourceID string `json:"azureResourceId"`
	Type            string `json:"type"`
}

type dfcLogAnalyticsIdentifier struct {
	WorkspaceID             string `json:"workspaceId"`
	WorkspaceSubscriptionID string `json:"workspaceSubscriptionId"`
	WorkspaceResourceGroup  string `json:"workspaceResourceGroup"`
	AgentID                 string `json:"agentId"`
	Type                    string `json:"type"`
}

// dfcPricingTier is the Defender plan that raises alerts on each resource
// type (productComponentName).
var dfcPricingTier = map[string]string{
	"virtualMachines": "VirtualMachines",
	"storageAccounts": "StorageAccounts",
	"servers":         "SqlServers",
	"managedClusters": "Containers",
	"vaults":          "KeyVaults",
	"sites":           "AppServices",
}

// dfcSubTechnique is the MITRE ATT&CK sub-technique the catalogue's alert
// types map to, where there is one.
var dfcSubTechnique = map[string]string{
	"T1059": "T1059.001",
	"T1110": "T1110.001",
	"T1090": "T1090.003",
	"T1555": "T1555.006",
	"T1505": "T1505.003",
}

func dfcTime(t time.Time) string { return t.UTC().Format(dfcTimeLayout) }

// dfcGUID derives a stable GUID from a string, for identifiers the world
// does not hold (the workspace's customer id, an agent id).
func dfcGUID(seed string) string {
	h := sha256.Sum256([]byte(seed))
	h[6] = (h[6] & 0x0f) | 0x40
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// dfcAlertJSON renders an alert as Microsoft.Security/alerts 2022-01-01
// does.
func (s *Simulator) dfcAlertJSON(a *DefenderAlert) dfcAlert {
	agentID := dfcGUID("agent:" + a.ResourceID)
	for _, e := range a.Entities {
		if id, ok := e["omsAgentID"].(string); ok && e["type"] == "host" {
			agentID = id
		}
	}
	resourceType := a.ExtendedProperties["resourceType"]
	tier := dfcPricingTier[resourceType]
	if tier == "" {
		tier = "VirtualMachines"
	}
	techniques := append([]string{}, a.Techniques...)
	subTechniques := []string{}
	for _, t := range techniques {
		if st, ok := dfcSubTechnique[t]; ok {
			subTechniques = append(subTechniques, st)
		}
	}
	entities := append([]map[string]any{}, a.Entities...)
	ext := map[string]string{}
	maps.Copy(ext, a.ExtendedProperties)
	corr := sha256.Sum256([]byte(a.AlertType + "|" + a.ResourceID))
	return dfcAlert{
		ID: s.defenderAlertID(a), Name: a.Name, Type: dfcAlertType,
		Properties: dfcAlertProperty{
			Version:              dfcSchemaVersion,
			AlertType:            a.AlertType,
			SystemAlertID:        a.Name,
			ProductComponentName: tier,
			AlertDisplayName:     a.DisplayName,
			Description:          a.Description,
			Severity:             a.Severity,
			Intent:               a.Intent,
			StartTimeUTC:         dfcTime(a.StartTime),
			EndTimeUTC:           dfcTime(a.EndTime),
			ResourceIdentifiers: []any{
				dfcAzureResourceIdentifier{AzureResourceID: a.ResourceID, Type: "AzureResource"},
				dfcLogAnalyticsIdentifier{
					WorkspaceID:             dfcGUID("workspace:" + s.world.workspaceID()),
					WorkspaceSubscriptionID: s.opt.SubscriptionID,
					WorkspaceResourceGroup:  s.opt.ResourceGroup,
					AgentID:                 agentID,
					Type:                    "LogAnalytics",
				},
			},
			RemediationSteps: append([]string{}, a.RemediationSteps...),
			VendorName:       "Microsoft",
			Status:           a.Status,
			ExtendedLinks: []map[string]string{{
				"Category": "threat_reports",
				"Label":    "Reference: " + a.DisplayName,
				"Href":     "https://learn.microsoft.com/azure/defender-for-cloud/alerts-reference",
				"Type":     "webLink",
			}},
			AlertURI: "https://portal.azure.com/#blade/Microsoft_Azure_Security/AlertBlade/alertId/" + a.Name +
				"/subscriptionId/" + s.opt.SubscriptionID + "/resourceGroup/" + a.ResourceGroup +
				"/referencedFrom/alertDeepLink/location/" + a.Location,
			TimeGeneratedUTC:     dfcTime(a.TimeGenerated),
			ProductName:          "Azure Security Center",
			ProcessingEndTimeUTC: dfcTime(a.ProcessingEndTime),
			Entities:             entities,
			IsIncident:           false,
			CorrelationKey:       base64.StdEncoding.EncodeToString(corr[:]),
			ExtendedProperties:   ext,
			CompromisedEntity:    a.CompromisedEntity,
			Techniques:           techniques,
			SubTechniques:        subTechniques,
			SupportingEvidence: map[string]any{
				"type":    "tabularEvidences",
				"title":   "Investigate activity",
				"columns": []string{"Date", "Activity", "Entity"},
				"rows":    [][]any{{dfcTime(a.StartTime), a.DisplayName, a.CompromisedEntity}},
			},
		},
	}
}
