package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
)

// Unified incidents: Graph's security/incidents (v1.0) shows Defender XDR
// incidents, and, for a workspace in the Defender portal, every Sentinel
// incident too. https://learn.microsoft.com/en-us/graph/api/security-list-incidents
//
//	GET   /security/incidents?$expand=alerts&$filter=lastUpdateDateTime ge …&$top=50
//	GET   /security/incidents/{id}
//	PATCH /security/incidents/{id}            status, classification, determination, assignedTo, customTags
//	POST  /security/incidents/{id}/comments   {"@odata.type": "microsoft.graph.security.alertComment", "comment": …}

// IncidentSource is the incident source name Graph incidents get in vigil.
const IncidentSource = "graph"

// Incident write-back operations (outbox.Message.Op, Target Target,
// Resource the incident id).
const (
	// OpIncidentUpdate sets an incident's status, classification,
	// determination, assignee or custom tags; payload
	// IncidentUpdatePayload.
	OpIncidentUpdate = "incident.update"
	// OpIncidentComment adds a comment; payload CommentPayload.
	OpIncidentComment = "incident.comment"
)

// incidentPageSize is the largest $top security/incidents takes.
const incidentPageSize = 50

// Incident is a microsoft.graph.security.incident with the fields vigil
// uses; Alerts is filled by $expand=alerts. Raw keeps it as Graph sent it.
type Incident struct {
	ID                 string    `json:"id"`
	DisplayName        string    `json:"displayName"`
	Description        string    `json:"description"`
	Status             string    `json:"status"` // active, inProgress, resolved, redirected, awaitingAction
	Severity           string    `json:"severity"`
	Classification     string    `json:"classification"`
	Determination      string    `json:"determination"`
	AssignedTo         string    `json:"assignedTo"`
	CustomTags         []string  `json:"customTags"`
	SystemTags         []string  `json:"systemTags"`
	RedirectIncidentID string    `json:"redirectIncidentId"`
	IncidentWebURL     string    `json:"incidentWebUrl"`
	CreatedDateTime    time.Time `json:"createdDateTime"`
	LastUpdateDateTime time.Time `json:"lastUpdateDateTime"`
	Comments           []Comment `json:"comments"`
	Alerts             []AlertV2 `json:"alerts"`

	Raw json.RawMessage `json:"-"`
}

// IncidentQuery selects incidents.
type IncidentQuery struct {
	// Since keeps incidents updated at or after it; zero for all.
	Since time.Time
	// Open keeps the incidents that are not resolved.
	Open bool
}

func (q IncidentQuery) filter() string {
	var parts []string
	if !q.Since.IsZero() {
		parts = append(parts, "lastUpdateDateTime ge "+odataTime(q.Since))
	}
	if q.Open {
		parts = append(parts, "status ne 'resolved'")
	}
	return strings.Join(parts, " and ")
}

// Incidents lists the incidents q selects with their alerts, following
// @odata.nextLink. An incident that cannot be decoded is logged and
// skipped.
func (c *Client) Incidents(ctx context.Context, q IncidentQuery) ([]Incident, error) {
	u := c.listURL("/security/incidents", q.filter(), incidentPageSize) + "&$expand=alerts"
	var out []Incident
	err := c.list(ctx, u, func(raw json.RawMessage) {
		inc, err := ParseIncident(raw)
		if err != nil {
			c.log.Warn("skipping undecodable incident", "err", err)
			return
		}
		out = append(out, inc)
	})
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

// ParseIncident decodes one incident as Graph sends it, its alerts'
// raw JSON kept.
func ParseIncident(raw []byte) (Incident, error) {
	var inc Incident
	if err := json.Unmarshal(raw, &inc); err != nil {
		return Incident{}, fmt.Errorf("decode incident: %w", err)
	}
	if strings.TrimSpace(inc.ID) == "" {
		return Incident{}, errors.New("incident without id")
	}
	var alerts struct {
		Alerts []json.RawMessage `json:"alerts"`
	}
	if json.Unmarshal(raw, &alerts) == nil && len(alerts.Alerts) == len(inc.Alerts) {
		for i := range inc.Alerts {
			inc.Alerts[i].Raw = alerts.Alerts[i]
		}
	}
	inc.Raw = json.RawMessage(raw)
	return inc, nil
}

// IncidentStatus maps an incident's status and classification to vigil's
// status: active is New (Sentinel's New and Active both show as active
// until someone sets inProgress), resolved is Resolved, or Dismissed when
// classified as a false or benign positive; a redirected incident was
// merged into another and is settled here.
func IncidentStatus(status, classification string) alert.Status {
	switch strings.ToLower(status) {
	case "active":
		return alert.StatusNew
	case "inprogress", "awaitingaction":
		return alert.StatusInProgress
	case "redirected":
		return alert.StatusResolved
	case "resolved":
		return Status("resolved", classification)
	}
	return alert.StatusNew
}

// MapIncident converts an incident. Alerts from Defender for Cloud are
// members under the Defender connector's source (its alert name is
// their providerAlertId), so that a finding pulled by both is one alert;
// the others are members under Graph's alert source.
func MapIncident(inc Incident) (alert.Incident, error) {
	if strings.TrimSpace(inc.ID) == "" {
		return alert.Incident{}, errors.New("graph incident without id")
	}
	out := alert.Incident{
		Source: IncidentSource, SourceID: inc.ID, Ref: inc.ID, LinkKey: "xdr:" + inc.ID,
		Title: inc.DisplayName, Description: inc.Description,
		Severity: Severity(inc.Severity), Status: IncidentStatus(inc.Status, inc.Classification),
		Members: make([]alert.Member, 0, len(inc.Alerts)),
	}
	firsts, lasts := []time.Time{inc.CreatedDateTime}, []time.Time{inc.LastUpdateDateTime, inc.CreatedDateTime}
	for _, a := range inc.Alerts {
		if strings.TrimSpace(a.ID) == "" {
			return out, fmt.Errorf("graph incident %s: an alert without id", inc.ID)
		}
		st := Status(a.Status, a.Classification)
		if strings.EqualFold(a.ServiceSource, "microsoftDefenderForCloud") && a.ProviderAlertID != "" {
			out.Members = append(out.Members, alert.Member{Source: "defender", SourceID: a.ProviderAlertID, Status: st})
		} else {
			out.Members = append(out.Members, alert.Member{Source: Source, SourceID: a.ID, Status: st})
		}
		firsts = append(firsts, a.FirstActivityDateTime)
		lasts = append(lasts, a.LastActivityDateTime)
	}
	out.FirstSeen, out.LastSeen = seen(firsts, lasts)
	raw, err := rawOf(inc.Raw, inc)
	if err != nil {
		return out, fmt.Errorf("graph incident %s: %w", inc.ID, err)
	}
	out.Raw = raw
	return out, nil
}

// IncidentUpdatePayload is OpIncidentUpdate's payload. Empty fields are
// left alone. Status takes Graph's spelling (active, inProgress,
// resolved); Classification Graph's or Sentinel's. CustomTags, when not
// nil, replaces the incident's custom tags. Assign with Unassign false and
// AssignedTo empty changes nothing; Unassign clears the assignee.
type IncidentUpdatePayload struct {
	Status         string    `json:"status,omitempty"`
	Classification string    `json:"classification,omitempty"`
	Determination  string    `json:"determination,omitempty"`
	AssignedTo     string    `json:"assignedTo,omitempty"`
	Unassign       bool      `json:"unassign,omitempty"`
	CustomTags     *[]string `json:"customTags,omitempty"`
	// Comment, when set, is added (once) after the update: the reason of
	// a closure, as Sentinel's close carries it.
	Comment string `json:"comment,omitempty"`
}

func (c *Client) incidentURL(id string) string {
	return c.base + "/security/incidents/" + url.PathEscape(id)
}

// readIncident GETs one incident (without its alerts).
func (c *Client) readIncident(ctx context.Context, id string) (Incident, error) {
	data, err := c.do(ctx, call{method: http.MethodGet, url: c.incidentURL(id), write: true})
	if err != nil {
		return Incident{}, fmt.Errorf("read incident: %w", err)
	}
	return ParseIncident(data)
}

// updateIncident is conflict-safe the way Graph allows (it has no ETag on
// incidents): it reads the incident first and sends only what differs, so
// a resend after a lost answer changes nothing, and it never resolves
// again an incident someone already resolved (their classification
// stands) nor reopens one unless the payload asks to.
func (c *Client) updateIncident(ctx context.Context, id string, p IncidentUpdatePayload, key string) error {
	cur, err := c.readIncident(ctx, id)
	if err != nil {
		return err
	}
	body := map[string]any{}
	resolved := strings.EqualFold(cur.Status, "resolved") || strings.EqualFold(cur.Status, "redirected")
	if p.Status != "" && !strings.EqualFold(p.Status, cur.Status) {
		switch {
		case strings.EqualFold(p.Status, "resolved") && resolved:
			// settled at the source already: its classification stands
		default:
			body["status"] = canonical(p.Status, "active", "inProgress", "resolved")
			if cl := p.Classification; cl != "" {
				if v := classificationV2(cl); v != cur.Classification {
					body["classification"] = v
				}
			}
			if p.Determination != "" && p.Determination != cur.Determination {
				body["determination"] = p.Determination
			}
		}
	} else if p.Status == "" {
		if p.Classification != "" && classificationV2(p.Classification) != cur.Classification {
			body["classification"] = classificationV2(p.Classification)
		}
		if p.Determination != "" && p.Determination != cur.Determination {
			body["determination"] = p.Determination
		}
	}
	switch {
	case p.Unassign && cur.AssignedTo != "":
		body["assignedTo"] = ""
	case p.AssignedTo != "" && !strings.EqualFold(p.AssignedTo, cur.AssignedTo):
		body["assignedTo"] = p.AssignedTo
	}
	if p.CustomTags != nil && !sameTags(*p.CustomTags, cur.CustomTags) {
		body["customTags"] = *p.CustomTags
	}
	if len(body) > 0 {
		if _, err := c.do(ctx, call{method: http.MethodPatch, url: c.incidentURL(id), body: body, write: true}); err != nil {
			return err
		}
	}
	if msg := strings.TrimSpace(p.Comment); msg != "" {
		return c.addIncidentComment(ctx, id, cur.Comments, msg, key)
	}
	return nil
}

// incidentComment adds a comment unless an earlier attempt did: one of
// the incident's comments carries the write's marker (key), or, for a
// message never queued (no key), the same text.
func (c *Client) incidentComment(ctx context.Context, id string, p CommentPayload, key string) error {
	msg := strings.TrimSpace(p.Message)
	if msg == "" {
		return errors.New("empty comment")
	}
	cur, err := c.readIncident(ctx, id)
	if err != nil {
		return err
	}
	return c.addIncidentComment(ctx, id, cur.Comments, msg, key)
}

func (c *Client) addIncidentComment(ctx context.Context, id string, have []Comment, msg, key string) error {
	texts := make([]string, 0, len(have))
	for _, cm := range have {
		texts = append(texts, strings.TrimSpace(cm.Comment))
	}
	if key != "" && commentHasMarker(texts, key) || key == "" && slices.Contains(texts, msg) {
		return nil
	}
	_, err := c.do(ctx, call{method: http.MethodPost, url: c.incidentURL(id) + "/comments", write: true,
		body: map[string]string{"@odata.type": "microsoft.graph.security.alertComment", "comment": withMarker(msg, key)}})
	return err
}

func sameTags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
