package simulator

// Microsoft Sentinel automation rules (Microsoft.SecurityInsights/
// automationRules): list, get, create or update, delete. The shape follows
// the AutomationRules_* examples of Azure/azure-rest-api-specs and the
// armsecurityinsights v2 models: conditions and actions are polymorphic on
// conditionType and actionType and are stored as the client sent them, as
// the service echoes them. Nothing is seeded: tests and the demo PUT the
// rules they need.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	sentinelTypeAutomationRule = "Microsoft.SecurityInsights/automationRules"
	// Limits from the REST specification: a rule has 1 to 20 actions and
	// at most 50 conditions, an order from 1 to 1000 and a display name
	// of at most 500 characters.
	automationRuleMaxActions    = 20
	automationRuleMaxConditions = 50
	automationRuleMaxOrder      = 1000
	automationRuleMaxName       = 500
)

var (
	automationTriggersOn     = []string{"Incidents", "Alerts"}
	automationTriggersWhen   = []string{"Created", "Updated"}
	automationConditionTypes = []string{"Property", "PropertyArray", "PropertyChanged", "PropertyArrayChanged", "Boolean"}
	automationActionTypes    = []string{"ModifyProperties", "RunPlaybook", "AddIncidentTask"}
)

// automationRule is one stored rule: what the client sent, and what the
// service keeps about it.
type automationRule struct {
	Name         string
	DisplayName  string
	Order        int
	IsEnabled    bool
	Expiration   time.Time
	TriggersOn   string
	TriggersWhen string
	Conditions   []json.RawMessage
	Actions      []json.RawMessage
	Created      time.Time
	Modified     time.Time
	CreatedBy    map[string]any
	ModifiedBy   map[string]any
	ETag         string
}

// automationRuleStore holds a simulator's automation rules. It has its own
// lock: rules touch nothing else in the world.
type automationRuleStore struct {
	mu    sync.Mutex
	rules map[string]*automationRule // by lower-cased name: ARM names are case-insensitive
}

// sentinelAutomationRuleRoutes registers the automationRules routes. The
// store lives in the handlers' closure, one per simulator.
func (s *Simulator) sentinelAutomationRuleRoutes() {
	st := &automationRuleStore{rules: map[string]*automationRule{}}
	list := sentinelPrefix + "/automationRules"
	one := list + "/{rule}"
	s.sentinelHandle("GET "+list, "sentinel.automationRules.list", func(w http.ResponseWriter, r *http.Request) {
		s.automationRuleList(st, w)
	})
	s.sentinelHandle("GET "+one, "sentinel.automationRules.get", func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		defer st.mu.Unlock()
		ar := st.rules[strings.ToLower(r.PathValue("rule"))]
		if ar == nil {
			sentinelNotFound(w, "Automation rule", r.PathValue("rule"))
			return
		}
		writeJSON(w, http.StatusOK, s.automationRuleJSON(ar))
	})
	s.sentinelHandle("PUT "+one, "sentinel.automationRules.put", func(w http.ResponseWriter, r *http.Request) {
		s.automationRulePut(st, w, r)
	})
	s.sentinelHandle("DELETE "+one, "sentinel.automationRules.delete", func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		defer st.mu.Unlock()
		key := strings.ToLower(r.PathValue("rule"))
		if st.rules[key] == nil {
			// ARM's delete is idempotent: nothing to delete is 204.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		delete(st.rules, key)
		writeJSON(w, http.StatusOK, map[string]any{})
	})
}

func (s *Simulator) automationRuleList(st *automationRuleStore, w http.ResponseWriter) {
	st.mu.Lock()
	rules := make([]*automationRule, 0, len(st.rules))
	for _, ar := range st.rules {
		rules = append(rules, ar)
	}
	// The service answers in execution order; ties by creation, then name,
	// so that the answer is stable.
	slices.SortFunc(rules, func(a, b *automationRule) int {
		if a.Order != b.Order {
			return a.Order - b.Order
		}
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	values := make([]map[string]any, len(rules))
	for i, ar := range rules {
		values[i] = s.automationRuleJSON(ar)
	}
	st.mu.Unlock()
	// Workspaces hold tens of rules: the service sends one page.
	writeJSON(w, http.StatusOK, map[string]any{"value": values})
}

func (s *Simulator) automationRuleJSON(ar *automationRule) map[string]any {
	tl := map[string]any{
		"isEnabled":    ar.IsEnabled,
		"triggersOn":   ar.TriggersOn,
		"triggersWhen": ar.TriggersWhen,
		"conditions":   rawList(ar.Conditions),
	}
	if !ar.Expiration.IsZero() {
		tl["expirationTimeUtc"] = sentinelTime(ar.Expiration)
	}
	return map[string]any{
		"id":   s.sentinelWorkspaceID() + "/providers/Microsoft.SecurityInsights/automationRules/" + ar.Name,
		"name": ar.Name, "type": sentinelTypeAutomationRule, "etag": ar.ETag,
		"properties": map[string]any{
			"displayName":         ar.DisplayName,
			"order":               ar.Order,
			"triggeringLogic":     tl,
			"actions":             rawList(ar.Actions),
			"createdTimeUtc":      sentinelTime(ar.Created),
			"lastModifiedTimeUtc": sentinelTime(ar.Modified),
			"createdBy":           ar.CreatedBy,
			"lastModifiedBy":      ar.ModifiedBy,
		},
	}
}

func rawList(v []json.RawMessage) []json.RawMessage {
	if v == nil {
		return []json.RawMessage{}
	}
	return v
}

type automationRuleBody struct {
	ETag       string `json:"etag"`
	Properties *struct {
		DisplayName     *string `json:"displayName"`
		Order           *int    `json:"order"`
		TriggeringLogic *struct {
			IsEnabled         *bool             `json:"isEnabled"`
			ExpirationTimeUTC *string           `json:"expirationTimeUtc"`
			TriggersOn        string            `json:"triggersOn"`
			TriggersWhen      string            `json:"triggersWhen"`
			Conditions        []json.RawMessage `json:"conditions"`
		} `json:"triggeringLogic"`
		Actions []json.RawMessage `json:"actions"`
	} `json:"properties"`
}

// automationRuleCheck validates a PUT body as the service does and returns
// the rule it describes, or the service's message.
func automationRuleCheck(b *automationRuleBody) (automationRule, string) {
	var ar automationRule
	p := b.Properties
	if p == nil {
		return ar, "The request body must contain 'properties'."
	}
	if p.DisplayName == nil || strings.TrimSpace(*p.DisplayName) == "" {
		return ar, "The DisplayName field is required."
	}
	if len(*p.DisplayName) > automationRuleMaxName {
		return ar, fmt.Sprintf("The field DisplayName must be a string with a maximum length of %d.", automationRuleMaxName)
	}
	if p.Order == nil || *p.Order < 1 || *p.Order > automationRuleMaxOrder {
		return ar, fmt.Sprintf("The field Order must be between 1 and %d.", automationRuleMaxOrder)
	}
	tl := p.TriggeringLogic
	if tl == nil {
		return ar, "The TriggeringLogic field is required."
	}
	if tl.IsEnabled == nil {
		return ar, "The IsEnabled field is required."
	}
	var ok bool
	if ar.TriggersOn, ok = sentinelEnum(tl.TriggersOn, automationTriggersOn); !ok {
		return ar, fmt.Sprintf("The TriggersOn field is required and must be one of %s; got '%s'.", strings.Join(automationTriggersOn, ", "), tl.TriggersOn)
	}
	if ar.TriggersWhen, ok = sentinelEnum(tl.TriggersWhen, automationTriggersWhen); !ok {
		return ar, fmt.Sprintf("The TriggersWhen field is required and must be one of %s; got '%s'.", strings.Join(automationTriggersWhen, ", "), tl.TriggersWhen)
	}
	if ar.TriggersOn == "Alerts" && ar.TriggersWhen != "Created" {
		// The service runs alert rules only when an alert is created.
		return ar, "Automation rules triggered by alerts support only TriggersWhen 'Created'."
	}
	if e := sentinelDeref(tl.ExpirationTimeUTC); e != "" {
		t, err := time.Parse(time.RFC3339Nano, e)
		if err != nil {
			return ar, fmt.Sprintf("The value '%s' of expirationTimeUtc is not a valid date-time.", e)
		}
		ar.Expiration = t.UTC()
	}
	if len(tl.Conditions) > automationRuleMaxConditions {
		return ar, fmt.Sprintf("An automation rule may have at most %d conditions.", automationRuleMaxConditions)
	}
	for i, c := range tl.Conditions {
		var head struct {
			ConditionType       string          `json:"conditionType"`
			ConditionProperties json.RawMessage `json:"conditionProperties"`
		}
		if err := json.Unmarshal(c, &head); err != nil {
			return ar, fmt.Sprintf("Condition %d is not a JSON object: %v", i, err)
		}
		if _, ok := sentinelEnum(head.ConditionType, automationConditionTypes); !ok {
			return ar, fmt.Sprintf("Condition %d: conditionType must be one of %s; got '%s'.", i, strings.Join(automationConditionTypes, ", "), head.ConditionType)
		}
		if len(head.ConditionProperties) == 0 || string(head.ConditionProperties) == "null" {
			return ar, fmt.Sprintf("Condition %d: conditionProperties is required.", i)
		}
	}
	if len(p.Actions) == 0 || len(p.Actions) > automationRuleMaxActions {
		return ar, fmt.Sprintf("An automation rule must have between 1 and %d actions.", automationRuleMaxActions)
	}
	for i, a := range p.Actions {
		var head struct {
			Order               *int            `json:"order"`
			ActionType          string          `json:"actionType"`
			ActionConfiguration json.RawMessage `json:"actionConfiguration"`
		}
		if err := json.Unmarshal(a, &head); err != nil {
			return ar, fmt.Sprintf("Action %d is not a JSON object: %v", i, err)
		}
		if _, ok := sentinelEnum(head.ActionType, automationActionTypes); !ok {
			return ar, fmt.Sprintf("Action %d: actionType must be one of %s; got '%s'.", i, strings.Join(automationActionTypes, ", "), head.ActionType)
		}
		if head.Order == nil {
			return ar, fmt.Sprintf("Action %d: the Order field is required.", i)
		}
		if len(head.ActionConfiguration) == 0 || string(head.ActionConfiguration) == "null" {
			return ar, fmt.Sprintf("Action %d: actionConfiguration is required.", i)
		}
	}
	ar.DisplayName, ar.Order, ar.IsEnabled = *p.DisplayName, *p.Order, *tl.IsEnabled
	ar.Conditions, ar.Actions = tl.Conditions, p.Actions
	return ar, ""
}

func (s *Simulator) automationRulePut(st *automationRuleStore, w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("rule")
	var body automationRuleBody
	if !sentinelDecode(w, r, &body) {
		return
	}
	ar, msg := automationRuleCheck(&body)
	if msg != "" {
		armBadRequest(w, msg)
		return
	}
	now, etag := s.world.now(), s.world.NewETag()
	who := sentinelClientInfo(s.opt.ClientID)
	st.mu.Lock()
	defer st.mu.Unlock()
	key := strings.ToLower(name)
	old := st.rules[key]
	switch {
	case old != nil && !sentinelETagMatches(body.ETag, old.ETag):
		sentinelConflict(w, name)
		return
	case old == nil && body.ETag != "" && body.ETag != "*":
		// An etag names a version of something that must exist.
		sentinelNotFound(w, "Automation rule", name)
		return
	}
	ar.Name, ar.Modified, ar.ModifiedBy, ar.ETag = name, now, who, etag
	code := http.StatusCreated
	if old != nil {
		ar.Name, ar.Created, ar.CreatedBy, code = old.Name, old.Created, old.CreatedBy, http.StatusOK
	} else {
		ar.Created, ar.CreatedBy = now, who
	}
	st.rules[key] = &ar
	writeJSON(w, code, s.automationRuleJSON(&ar))
}
