package automation

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Import from Microsoft Sentinel: `vigil rules import-sentinel` reads the
// workspace's automation rules through ARM (GET .../providers/
// Microsoft.SecurityInsights/automationRules) and FromSentinel converts
// those vigil can express. A rule is converted whole or not at all: a rule
// with one condition or action vigil cannot express is skipped, with the
// reason, rather than imported doing something else.

// ImportResult is the outcome of an import.
type ImportResult struct {
	Rules   []Definition `json:"rules"`
	Skipped []Skipped    `json:"skipped"`
}

// Skipped names a rule that was not converted, and why.
type Skipped struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// sentinelRule is the ARM automation rule, as far as the import reads it.
type sentinelRule struct {
	Name       string `json:"name"`
	Properties struct {
		DisplayName     string `json:"displayName"`
		Order           int    `json:"order"`
		TriggeringLogic struct {
			IsEnabled         bool                `json:"isEnabled"`
			ExpirationTimeUTC *time.Time          `json:"expirationTimeUtc"`
			TriggersOn        string              `json:"triggersOn"`
			TriggersWhen      string              `json:"triggersWhen"`
			Conditions        []sentinelCondition `json:"conditions"`
		} `json:"triggeringLogic"`
		Actions []sentinelAction `json:"actions"`
	} `json:"properties"`
}

type sentinelCondition struct {
	ConditionType       string          `json:"conditionType"`
	ConditionProperties json.RawMessage `json:"conditionProperties"`
}

// sentinelCondProps is the union of the condition kinds' properties.
type sentinelCondProps struct {
	// Property and PropertyChanged.
	PropertyName   string   `json:"propertyName"`
	Operator       string   `json:"operator"`
	PropertyValues []string `json:"propertyValues"`
	ChangeType     string   `json:"changeType"`
	// PropertyArray and PropertyArrayChanged.
	ArrayType          string              `json:"arrayType"`
	ArrayConditionType string              `json:"arrayConditionType"`
	ItemConditions     []sentinelCondition `json:"itemConditions"`
	// Boolean.
	InnerConditions []sentinelCondition `json:"innerConditions"`
}

type sentinelAction struct {
	Order               int             `json:"order"`
	ActionType          string          `json:"actionType"`
	ActionConfiguration json.RawMessage `json:"actionConfiguration"`
}

// sentinelProperties maps Sentinel's condition properties to the
// vocabulary. Properties not here (registry keys, IoT devices, malware,
// mail messages, ...) have no vigil counterpart and skip the rule.
var sentinelProperties = map[string]string{
	"IncidentTitle":                  "title",
	"AlertTitle":                     "title",
	"IncidentDescription":            "description",
	"IncidentSeverity":               "severity",
	"AlertSeverity":                  "severity",
	"IncidentStatus":                 "status",
	"IncidentLabel":                  "tags",
	"IncidentTactics":                "tactics",
	"AlertTactics":                   "tactics",
	"IncidentProviderName":           "provider",
	"AlertProviderName":              "provider",
	"AlertProductName":               "product",
	"AlertProductNames":              "product",
	"IncidentRelatedAnalyticRuleIds": "analytic_rule_ids",
	"AlertAnalyticRuleIds":           "analytic_rule_ids",
	"AccountName":                    "accounts",
	"AccountUPNSuffix":               "accounts",
	"AccountAadUserId":               "accounts",
	"AccountObjectGuid":              "accounts",
	"AccountSid":                     "accounts",
	"HostName":                       "hosts",
	"HostNetBiosName":                "hosts",
	"IPAddress":                      "ips",
	"Url":                            "urls",
	"FileHashValue":                  "file_hashes",
	"DNSDomainName":                  "domains",
	"AzureResourceResourceId":        "azure_resources",
	"ProcessCommandLine":             "processes",
	"MailboxPrimaryAddress":          "mailboxes",
	"MailboxUPN":                     "mailboxes",
	"IncidentOwner":                  "assignee",
}

// sentinelChanged maps PropertyChanged's properties to the fields of
// changed.<field>.from / .to.
var sentinelChanged = map[string]string{
	"IncidentSeverity": "severity",
	"IncidentStatus":   "status",
	"IncidentOwner":    "assignee",
}

var sentinelOperators = map[string]string{
	"Equals": OpEquals, "NotEquals": OpNotEquals,
	"Contains": OpContains, "NotContains": OpNotContains,
	"StartsWith": OpStartsWith, "NotStartsWith": OpNotStartsWith,
	"EndsWith": OpEndsWith, "NotEndsWith": OpNotEndsWith,
}

// sentinelStatuses maps Sentinel's incident statuses to the normalized
// status at the source (alert.Status) that the vocabulary's status holds.
var sentinelStatuses = map[string]string{"new": "new", "active": "in_progress", "closed": "resolved"}

var sentinelClassifications = map[string]string{
	"TruePositive": TruePositive, "BenignPositive": BenignPositive,
	"FalsePositive": FalsePositive, "Undetermined": Undetermined,
}

// FromSentinel converts an ARM list of automation rules ({"value": [...]},
// as GET .../automationRules answers) into definitions. Only a body that
// is not such a list is an error; a rule that cannot be converted is
// listed in Skipped.
func FromSentinel(raw []byte) (ImportResult, error) {
	var list struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return ImportResult{}, fmt.Errorf("automation: Sentinel automation rules: %w", err)
	}
	res := ImportResult{Rules: []Definition{}, Skipped: []Skipped{}}
	for i, item := range list.Value {
		var sr sentinelRule
		if err := json.Unmarshal(item, &sr); err != nil {
			// One malformed rule does not spoil the others.
			res.Skipped = append(res.Skipped, Skipped{Name: fmt.Sprintf("value[%d]", i), Reason: "not an automation rule: " + err.Error()})
			continue
		}
		name := sr.Properties.DisplayName
		if name == "" {
			name = sr.Name
		}
		d, err := convertSentinel(&sr)
		if err != nil {
			res.Skipped = append(res.Skipped, Skipped{Name: name, Reason: err.Error()})
			continue
		}
		res.Rules = append(res.Rules, d)
	}
	return res, nil
}

func convertSentinel(sr *sentinelRule) (Definition, error) {
	p := &sr.Properties
	tl := &p.TriggeringLogic
	d := Definition{
		Name:      p.DisplayName,
		Enabled:   tl.IsEnabled,
		Order:     p.Order,
		ExpiresAt: tl.ExpirationTimeUTC,
	}
	if sr.Name != "" {
		d.Description = "Imported from Microsoft Sentinel automation rule " + sr.Name + "."
	}
	trig, ok := map[[2]string]Trigger{
		{"incidents", "created"}: IncidentCreated,
		{"incidents", "updated"}: IncidentUpdated,
		{"alerts", "created"}:    AlertCreated,
		{"alerts", "updated"}:    AlertUpdated,
	}[[2]string{strings.ToLower(tl.TriggersOn), strings.ToLower(tl.TriggersWhen)}]
	if !ok {
		return d, fmt.Errorf("trigger %s %s is not supported", tl.TriggersOn, tl.TriggersWhen)
	}
	d.Triggers = []string{string(trig)}

	cond, err := sentinelConditions(tl.Conditions)
	if err != nil {
		return d, err
	}
	if cond.builder != nil {
		d.Builder = cond.builder
	} else {
		d.Condition = cond.cel
	}

	acts := slices.Clone(p.Actions)
	slices.SortStableFunc(acts, func(a, b sentinelAction) int { return a.Order - b.Order })
	for _, a := range acts {
		specs, err := sentinelActionSpecs(a)
		if err != nil {
			return d, err
		}
		d.Actions = append(d.Actions, specs...)
	}
	if err := d.Normalize(); err != nil {
		return d, fmt.Errorf("does not make a valid vigil rule: %w", err)
	}
	if _, err := Compile(d.Condition); err != nil {
		return d, fmt.Errorf("condition does not compile: %w", err)
	}
	return d, nil
}

// converted is a condition as the builder's rows when it is a plain AND
// (or a plain OR), else as CEL.
type converted struct {
	builder *Builder
	cel     string
}

// sentinelConditions converts a rule's top-level conditions, which
// Sentinel ANDs. The builder keeps the rule editable as rows; nested AND
// and OR that the builder cannot hold become CEL.
func sentinelConditions(conds []sentinelCondition) (converted, error) {
	var rows []BuilderRow
	var anyRows []BuilderRow // a lone top-level OR of plain rows
	var nested []string      // CEL of nested groups
	for _, c := range conds {
		switch strings.ToLower(c.ConditionType) {
		case "boolean":
			op, inner, err := sentinelBoolean(c)
			if err != nil {
				return converted{}, err
			}
			if op == "and" {
				// An AND inside the top-level AND flattens, when plain.
				if r, err := sentinelRows(inner); err == nil {
					rows = append(rows, r...)
					continue
				}
			} else if len(conds) == 1 {
				if r, err := sentinelRows(inner); err == nil {
					anyRows = r
					continue
				}
			}
			cel, err := sentinelBooleanCEL(c, 0)
			if err != nil {
				return converted{}, err
			}
			nested = append(nested, cel)
		default:
			r, err := sentinelRow(c)
			if err != nil {
				return converted{}, err
			}
			rows = append(rows, r)
		}
	}
	switch {
	case anyRows != nil:
		return converted{builder: &Builder{Match: "any", Rows: anyRows}}, nil
	case len(nested) == 0:
		if len(rows) == 0 {
			return converted{}, nil // no conditions: every incident or alert
		}
		return converted{builder: &Builder{Match: "all", Rows: rows}}, nil
	}
	parts := make([]string, 0, len(rows)+len(nested))
	for _, r := range rows {
		cel, err := (&Builder{Match: "all", Rows: []BuilderRow{r}}).CEL()
		if err != nil {
			return converted{}, err
		}
		parts = append(parts, "("+cel+")")
	}
	for _, n := range nested {
		parts = append(parts, "("+n+")")
	}
	return converted{cel: strings.Join(parts, " && ")}, nil
}

// maxBooleanDepth bounds the nesting the import follows; deeper rules are
// skipped rather than turned into CEL nobody will read.
const maxBooleanDepth = 3

func sentinelBoolean(c sentinelCondition) (op string, inner []sentinelCondition, err error) {
	var p sentinelCondProps
	if err := json.Unmarshal(c.ConditionProperties, &p); err != nil {
		return "", nil, fmt.Errorf("Boolean condition: %w", err)
	}
	// The properties carry the operator as "operator" (And, Or).
	op = strings.ToLower(p.Operator)
	if op != "and" && op != "or" {
		return "", nil, fmt.Errorf("Boolean condition operator %q is not supported", p.Operator)
	}
	if len(p.InnerConditions) == 0 {
		return "", nil, fmt.Errorf("Boolean condition has no inner conditions")
	}
	return op, p.InnerConditions, nil
}

// sentinelBooleanCEL writes a nested AND/OR as CEL, each leaf through the
// builder so that leaves mean what rows mean.
func sentinelBooleanCEL(c sentinelCondition, depth int) (string, error) {
	if depth >= maxBooleanDepth {
		return "", fmt.Errorf("Boolean conditions nested deeper than %d are not supported", maxBooleanDepth)
	}
	op, inner, err := sentinelBoolean(c)
	if err != nil {
		return "", err
	}
	parts := make([]string, 0, len(inner))
	for _, ic := range inner {
		var cel string
		if strings.EqualFold(ic.ConditionType, "Boolean") {
			cel, err = sentinelBooleanCEL(ic, depth+1)
		} else {
			var r BuilderRow
			if r, err = sentinelRow(ic); err == nil {
				cel, err = (&Builder{Match: "all", Rows: []BuilderRow{r}}).CEL()
			}
		}
		if err != nil {
			return "", err
		}
		parts = append(parts, "("+cel+")")
	}
	join := " && "
	if op == "or" {
		join = " || "
	}
	return strings.Join(parts, join), nil
}

// sentinelRows converts conditions that are all plain rows.
func sentinelRows(conds []sentinelCondition) ([]BuilderRow, error) {
	rows := make([]BuilderRow, 0, len(conds))
	for _, c := range conds {
		r, err := sentinelRow(c)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// sentinelRow converts one non-Boolean condition into a builder row.
func sentinelRow(c sentinelCondition) (BuilderRow, error) {
	var p sentinelCondProps
	if err := json.Unmarshal(c.ConditionProperties, &p); err != nil {
		return BuilderRow{}, fmt.Errorf("%s condition: %w", c.ConditionType, err)
	}
	switch strings.ToLower(c.ConditionType) {
	case "property":
		prop, ok := sentinelProperties[p.PropertyName]
		if !ok {
			return BuilderRow{}, fmt.Errorf("condition on property %q has no vigil counterpart", p.PropertyName)
		}
		op, ok := sentinelOperators[p.Operator]
		if !ok {
			return BuilderRow{}, fmt.Errorf("operator %q on %s is not supported", p.Operator, p.PropertyName)
		}
		vals := slices.Clone(p.PropertyValues)
		if p.PropertyName == "AccountUPNSuffix" {
			// accounts hold whole names: a UPN suffix is how one ends.
			switch op {
			case OpEquals:
				op = OpEndsWith
			case OpNotEquals:
				op = OpNotEndsWith
			default:
				return BuilderRow{}, fmt.Errorf("operator %q on AccountUPNSuffix is not supported", p.Operator)
			}
			for i, v := range vals {
				vals[i] = "@" + strings.TrimPrefix(v, "@")
			}
		}
		vals, err := sentinelValues(prop, vals)
		if err != nil {
			return BuilderRow{}, fmt.Errorf("%s: %w", p.PropertyName, err)
		}
		return BuilderRow{Property: prop, Operator: op, Values: vals}, nil
	case "propertychanged":
		field, ok := sentinelChanged[p.PropertyName]
		if !ok {
			return BuilderRow{}, fmt.Errorf("change condition on property %q is not supported", p.PropertyName)
		}
		dir := map[string]string{"changedfrom": "from", "changedto": "to"}[strings.ToLower(p.ChangeType)]
		if dir == "" {
			return BuilderRow{}, fmt.Errorf("change type %q on %s is not supported", p.ChangeType, p.PropertyName)
		}
		op, ok := sentinelOperators[p.Operator]
		if !ok {
			return BuilderRow{}, fmt.Errorf("operator %q on %s is not supported", p.Operator, p.PropertyName)
		}
		vals, err := sentinelValues(field, p.PropertyValues)
		if err != nil {
			return BuilderRow{}, fmt.Errorf("%s: %w", p.PropertyName, err)
		}
		return BuilderRow{Property: "changed." + field + "." + dir, Operator: op, Values: vals}, nil
	case "propertyarray":
		// "Any label equals X" is the builder's list row on tags; custom
		// details and "all items" have no row.
		if !strings.EqualFold(p.ArrayType, "IncidentLabels") || !strings.EqualFold(p.ArrayConditionType, "AnyItem") || len(p.ItemConditions) != 1 {
			return BuilderRow{}, fmt.Errorf("array condition %s/%s is not supported", p.ArrayType, p.ArrayConditionType)
		}
		return sentinelRow(p.ItemConditions[0])
	case "propertyarraychanged":
		return BuilderRow{}, fmt.Errorf("array change condition (%s %s) is not supported", p.ArrayType, p.ChangeType)
	}
	return BuilderRow{}, fmt.Errorf("condition type %q is not supported", c.ConditionType)
}

// sentinelValues maps Sentinel's enum spellings to the vocabulary's.
func sentinelValues(field string, vals []string) ([]string, error) {
	if len(vals) == 0 {
		return nil, fmt.Errorf("no values")
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		switch field {
		case "status":
			s, ok := sentinelStatuses[strings.ToLower(v)]
			if !ok {
				return nil, fmt.Errorf("status %q is not a Sentinel incident status", v)
			}
			out[i] = s
		case "severity":
			out[i] = strings.ToLower(v)
		default:
			out[i] = v
		}
	}
	return out, nil
}

// sentinelActionSpecs converts one Sentinel action into vigil's, in the
// order they run.
func sentinelActionSpecs(a sentinelAction) ([]ActionSpec, error) {
	switch a.ActionType {
	case "ModifyProperties":
		var c struct {
			Severity              string `json:"severity"`
			Status                string `json:"status"`
			Classification        string `json:"classification"`
			ClassificationReason  string `json:"classificationReason"`
			ClassificationComment string `json:"classificationComment"`
			Owner                 *struct {
				ObjectID          string `json:"objectId"`
				Email             string `json:"email"`
				UserPrincipalName string `json:"userPrincipalName"`
				AssignedTo        string `json:"assignedTo"`
			} `json:"owner"`
			Labels []struct {
				LabelName string `json:"labelName"`
			} `json:"labels"`
		}
		if err := json.Unmarshal(a.ActionConfiguration, &c); err != nil {
			return nil, fmt.Errorf("ModifyProperties action: %w", err)
		}
		var out []ActionSpec
		if c.Owner != nil {
			who := c.Owner.Email
			if who == "" {
				who = c.Owner.UserPrincipalName
			}
			if who == "" {
				return nil, fmt.Errorf("ModifyProperties action assigns an owner without an email or userPrincipalName (objectId %q)", c.Owner.ObjectID)
			}
			out = append(out, ActionSpec{Type: ActAssign, Assignee: who})
		}
		if c.Severity != "" {
			out = append(out, ActionSpec{Type: ActSeverity, Severity: strings.ToLower(c.Severity)})
		}
		if len(c.Labels) > 0 {
			add := make([]string, len(c.Labels))
			for i, l := range c.Labels {
				add[i] = l.LabelName
			}
			out = append(out, ActionSpec{Type: ActTags, Add: add})
		}
		// The status last: a close ends what the others prepare.
		switch strings.ToLower(c.Status) {
		case "":
		case "closed":
			class := Undetermined
			if c.Classification != "" {
				var ok bool
				if class, ok = sentinelClassifications[c.Classification]; !ok {
					return nil, fmt.Errorf("ModifyProperties action classification %q is not supported", c.Classification)
				}
			}
			out = append(out, ActionSpec{Type: ActClose, Classification: class, Reason: c.ClassificationComment})
		case "active":
			out = append(out, ActionSpec{Type: ActMove, State: "Active"})
		case "new":
			out = append(out, ActionSpec{Type: ActMove, State: "New"})
		default:
			return nil, fmt.Errorf("ModifyProperties action status %q is not supported", c.Status)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("ModifyProperties action changes nothing vigil can change")
		}
		return out, nil
	case "AddIncidentTask":
		var c struct {
			Title string `json:"title"`
		}
		if err := json.Unmarshal(a.ActionConfiguration, &c); err != nil {
			return nil, fmt.Errorf("AddIncidentTask action: %w", err)
		}
		return []ActionSpec{{Type: ActTasks, Tasks: []string{c.Title}}}, nil
	case "RunPlaybook":
		var c struct {
			LogicAppResourceID string `json:"logicAppResourceId"`
		}
		if err := json.Unmarshal(a.ActionConfiguration, &c); err != nil {
			return nil, fmt.Errorf("RunPlaybook action: %w", err)
		}
		id := strings.TrimRight(c.LogicAppResourceID, "/")
		return []ActionSpec{{Type: ActPlaybook, Name: id[strings.LastIndex(id, "/")+1:]}}, nil
	}
	return nil, fmt.Errorf("action type %q is not supported", a.ActionType)
}
