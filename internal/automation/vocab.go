package automation

import (
	"encoding/json"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Variable is one name of the condition vocabulary.
type Variable struct {
	Name string
	Type string // CEL type, for the documentation and the builder
	Doc  string
	// Builder names the property in the condition builder; "" keeps
	// the variable out of it.
	Builder string
	List    bool // a list: a builder row matches if any element does
}

// Vocabulary is everything a condition can test. docs/automation.md
// documents it; the condition builder offers the rows marked Builder.
var Vocabulary = []Variable{
	{"title", "string", "the alert's, incident's or item's title", "Title", false},
	{"description", "string", "the description", "Description", false},
	{"severity", "string", "informational, low, medium, high or critical", "Severity", false},
	{"status", "string", "the status at the source: new, in_progress, resolved, dismissed", "Status", false},
	{"source", "string", "sentinel, defender, graph, alertmanager, pagerduty, azure-monitor or api", "Source", false},
	{"product", "string", "the product name (Microsoft Defender for Endpoint, Azure Security Center, a Prometheus job)", "Product name", false},
	{"provider", "string", "the provider or vendor name (Microsoft, ASI Scheduled Alerts)", "Provider name", false},
	{"alert_type", "string", "the alert type or analytic's kind where the source names one", "Alert type", false},
	{"tags", "list(string)", "the item's tags and the incident's labels", "Tag", true},
	{"labels", "map(string, string)", "Alertmanager labels; Sentinel labels as keys with empty values", "", false},
	{"tactics", "list(string)", "MITRE ATT&CK tactics", "Tactic", true},
	{"techniques", "list(string)", "MITRE ATT&CK techniques", "Technique", true},
	{"analytic_rule_ids", "list(string)", "Sentinel analytic rule ids (ARM ids or GUIDs)", "Analytic rule id", true},
	{"custom_details", "map(string, dyn)", "custom details (Sentinel), custom_details (PagerDuty), customProperties (Azure Monitor)", "", false},
	{"accounts", "list(string)", "account entities", "Account", true},
	{"hosts", "list(string)", "host entities", "Host", true},
	{"ips", "list(string)", "IP address entities", "IP address", true},
	{"urls", "list(string)", "URL entities", "URL", true},
	{"file_hashes", "list(string)", "file hash entities", "File hash", true},
	{"domains", "list(string)", "DNS domain entities", "DNS domain", true},
	{"azure_resources", "list(string)", "Azure (cloud) resource ids", "Azure resource", true},
	{"processes", "list(string)", "process command lines or image names from the payload's evidence", "Process", true},
	{"mailboxes", "list(string)", "mailbox and mail addresses from the payload's evidence", "Mailbox", true},
	{"entities", "list(map(string, string))", "every entity as {kind, value}", "", false},
	{"type", "string", "the work item type: Issue, Problem, Task", "Item type", false},
	{"state", "string", "the work item's state (New, Approved, ...)", "State", false},
	{"assignee", "string", "the work item's assignee", "Assignee", false},
	{"alert_count", "int", "alerts on the work item", "Alert count", false},
	{"trigger", "string", "the trigger that fired (alert.created, item.moved, ...)", "", false},
	{"changed", "map(string, map(string, string))", "what an update changed: changed.severity.from / .to, and state, assignee, status; use has(changed.severity)", "", false},
	{"comment", "string", "the comment just added (item.commented)", "Comment", false},
	{"comment_added", "bool", "a comment was just added", "", false},
	{"ti", "map(string, dyn)", "threat intelligence on the alert's entities: ti.matched (bool), ti.confidence (int, the highest), ti.feed (the first feed), ti.feeds (list)", "", false},
}

// ThreatIntel answers, for an alert's entities, whether any is a known
// indicator, the highest confidence and the feeds. The threat
// intelligence module sets it at start (nil: nothing ever matches).
var ThreatIntel func(entities []alert.Entity) (matched bool, confidence int, feeds []string)

func newEnv() (*cel.Env, error) {
	opts := []cel.EnvOption{ext.Strings(), ext.Lists(), cel.HomogeneousAggregateLiterals()}
	for _, v := range Vocabulary {
		opts = append(opts, cel.Variable(v.Name, celType(v.Type)))
	}
	return cel.NewEnv(opts...)
}

func celType(t string) *cel.Type {
	switch t {
	case "string":
		return cel.StringType
	case "int":
		return cel.IntType
	case "bool":
		return cel.BoolType
	case "list(string)":
		return cel.ListType(cel.StringType)
	case "map(string, string)":
		return cel.MapType(cel.StringType, cel.StringType)
	case "map(string, dyn)":
		return cel.MapType(cel.StringType, cel.DynType)
	case "list(map(string, string))":
		return cel.ListType(cel.MapType(cel.StringType, cel.StringType))
	case "map(string, map(string, string))":
		return cel.MapType(cel.StringType, cel.MapType(cel.StringType, cel.StringType))
	}
	panic("automation: unknown vocabulary type " + t)
}

// Change is what an update changed (Sentinel's PropertyChanged).
type Change struct {
	Field    string // severity, state, assignee, status
	From, To string
}

// Event is one change that rules may act on.
type Event struct {
	Trigger  Trigger
	Source   string
	Alert    *alert.Alert    // the alert (alert triggers; an item's lead alert)
	Incident *alert.Incident // the incident (incident triggers)
	// Item is the work item as it stands; for a creation trigger, as it
	// is about to be inserted.
	Item     workitem.Item
	Changes  []Change
	Comment  string // item.commented
	Actor    string // who made the change: rule actors never trigger rules
	Depth    int    // how many rule-triggered changes led here
	itemSeen bool
}

// activation resolves the vocabulary lazily: a rule that tests only the
// title never parses the raw payload. One activation serves every rule
// evaluated on an event.
type activation struct {
	ev    *Event
	cache map[string]any
	raw   *rawFacts
	// checked and over are fits' verdicts: the variables checked
	// against the bounds, and those found over them.
	checked, over varMask
}

func newActivation(ev *Event) *activation { return &activation{ev: ev} }

func (a *activation) Parent() interpreter.Activation { return nil }

func (a *activation) ResolveName(name string) (any, bool) {
	if v, ok := a.cache[name]; ok {
		return v, true
	}
	v, ok := a.resolve(name)
	if !ok {
		return nil, false
	}
	if a.cache == nil {
		a.cache = make(map[string]any, 8)
	}
	a.cache[name] = v
	return v, true
}

func (a *activation) resolve(name string) (any, bool) {
	ev := a.ev
	al, in, it := ev.Alert, ev.Incident, &ev.Item
	switch name {
	case "title":
		return first(pick(in, func(i *alert.Incident) string { return i.Title }), pick(al, func(a *alert.Alert) string { return a.Title }), it.Title), true
	case "description":
		return first(pick(in, func(i *alert.Incident) string { return i.Description }), pick(al, func(a *alert.Alert) string { return a.Description })), true
	case "severity":
		if it.Severity != "" {
			return string(it.Severity), true
		}
		return first(pick(in, func(i *alert.Incident) string { return string(i.Severity) }), pick(al, func(a *alert.Alert) string { return string(a.Severity) })), true
	case "status":
		return first(pick(in, func(i *alert.Incident) string { return string(i.Status) }), pick(al, func(a *alert.Alert) string { return string(a.Status) })), true
	case "source":
		return ev.Source, true
	case "product":
		return first(pick(al, func(a *alert.Alert) string { return a.Product }), firstOf(a.facts().products)), true
	case "provider":
		return firstOf(a.facts().providers), true
	case "alert_type":
		return firstOf(a.facts().alertTypes), true
	case "tags":
		return union(it.Tags, a.facts().labelNames), true
	case "labels":
		return a.facts().labels, true
	case "tactics":
		return a.facts().tactics, true
	case "techniques":
		return a.facts().techniques, true
	case "analytic_rule_ids":
		return a.facts().ruleIDs, true
	case "custom_details":
		return a.facts().custom, true
	case "accounts":
		return a.entities(alert.EntityAccount), true
	case "hosts":
		return a.entities(alert.EntityHost), true
	case "ips":
		return a.entities(alert.EntityIP), true
	case "urls":
		return a.entities(alert.EntityURL), true
	case "file_hashes":
		return a.entities(alert.EntityFileHash), true
	case "domains":
		return a.entities(alert.EntityDomain), true
	case "azure_resources":
		return a.entities(alert.EntityCloudResource), true
	case "processes":
		return a.facts().processes, true
	case "mailboxes":
		return a.facts().mailboxes, true
	case "entities":
		var out []map[string]string
		if al != nil {
			for _, e := range al.Entities {
				out = append(out, map[string]string{"kind": string(e.Kind), "value": e.Value})
			}
		}
		if out == nil {
			out = []map[string]string{}
		}
		return out, true
	case "type":
		return string(it.Type), true
	case "state":
		return it.State, true
	case "assignee":
		return it.Assignee, true
	case "alert_count":
		return int64(max(it.AlertCount, 1)), true
	case "trigger":
		return string(ev.Trigger), true
	case "changed":
		m := make(map[string]map[string]string, len(ev.Changes))
		for _, c := range ev.Changes {
			m[c.Field] = map[string]string{"from": c.From, "to": c.To}
		}
		return m, true
	case "comment":
		return ev.Comment, true
	case "comment_added":
		return ev.Trigger == ItemCommented, true
	case "ti":
		m := map[string]any{"matched": false, "confidence": int64(0), "feed": "", "feeds": []string{}}
		if al != nil && ThreatIntel != nil {
			if ok, conf, feeds := ThreatIntel(al.Entities); ok {
				m["matched"], m["confidence"], m["feeds"] = true, int64(conf), feeds
				if len(feeds) > 0 {
					m["feed"] = feeds[0]
				}
			}
		}
		return m, true
	}
	return nil, false
}

func pick[T any](p *T, f func(*T) string) string {
	if p == nil {
		return ""
	}
	return f(p)
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstOf(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func union(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	out = append(out, a...)
	for _, v := range b {
		if !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

func (a *activation) entities(kind alert.EntityKind) []string {
	out := []string{}
	if a.ev.Alert != nil {
		for _, e := range a.ev.Alert.Entities {
			if e.Kind == kind {
				out = append(out, e.Value)
			}
		}
	}
	switch kind { // evidence the normalized entities do not carry
	case alert.EntityAccount:
		out = union(out, a.facts().accounts)
	case alert.EntityHost:
		out = union(out, a.facts().hosts)
	}
	return out
}

// rawFacts are the vocabulary's values that only the source's payload
// holds. Every source spells them differently (Sentinel's tactics,
// Graph's mitreTechniques, PagerDuty's custom_details, Azure Monitor's
// customProperties), so the payload is walked once for the known keys.
type rawFacts struct {
	products, providers, alertTypes []string
	tactics, techniques, ruleIDs    []string
	labelNames                      []string
	labels                          map[string]string
	custom                          map[string]any
	processes, mailboxes            []string
	accounts, hosts                 []string
}

func (a *activation) facts() *rawFacts {
	if a.raw != nil {
		return a.raw
	}
	f := &rawFacts{labels: map[string]string{}, custom: map[string]any{}}
	a.raw = f
	for _, raw := range [][]byte{rawOf(a.ev.Incident), rawOfAlert(a.ev.Alert)} {
		if len(raw) == 0 {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		f.walk(v, "", 0)
	}
	for _, s := range []*[]string{&f.products, &f.providers, &f.alertTypes, &f.tactics, &f.techniques, &f.ruleIDs, &f.labelNames,
		&f.processes, &f.mailboxes, &f.accounts, &f.hosts} {
		if *s == nil {
			*s = []string{}
		}
	}
	return f
}

func rawOf(in *alert.Incident) []byte {
	if in == nil {
		return nil
	}
	return in.Raw
}

func rawOfAlert(a *alert.Alert) []byte {
	if a == nil {
		return nil
	}
	return a.Raw
}

const maxWalkDepth = 6

// walk collects the facts by key, whatever the nesting: ARM wraps them in
// "properties", Graph puts them at the top, PagerDuty under "payload".
func (f *rawFacts) walk(v any, key string, depth int) {
	if depth > maxWalkDepth {
		return
	}
	k := strings.ToLower(key)
	switch x := v.(type) {
	case map[string]any:
		switch k {
		case "labels", "commonlabels":
			if isAlertmanagerLabels(x) {
				for lk, lv := range x {
					if s, ok := lv.(string); ok {
						f.labels[lk] = s
					}
				}
				return
			}
		case "custom_details", "customdetails", "customproperties", "custom details":
			for ck, cv := range x {
				f.custom[ck] = cv
			}
			return
		}
		for ck, cv := range x {
			f.walk(cv, ck, depth+1)
		}
		if t, _ := x["@odata.type"].(string); t != "" {
			f.evidence(strings.ToLower(t), x)
		}
	case []any:
		if k == "labels" { // Sentinel: [{labelName, labelType}]
			for _, e := range x {
				if m, ok := e.(map[string]any); ok {
					if n, _ := m["labelName"].(string); n != "" {
						f.labelNames = appendNew(f.labelNames, strings.ToLower(n))
						f.labels[n] = ""
					}
				}
			}
			return
		}
		for _, e := range x {
			if s, ok := e.(string); ok {
				f.scalar(k, s)
				continue
			}
			f.walk(e, key, depth+1)
		}
	case string:
		f.scalar(k, x)
	}
}

func isAlertmanagerLabels(m map[string]any) bool {
	for _, v := range m {
		if _, ok := v.(string); !ok {
			return false
		}
	}
	return true
}

func (f *rawFacts) scalar(k, s string) {
	if s == "" {
		return
	}
	switch k {
	case "productname", "alertproductnames", "productnames", "servicesource", "monitoringservice":
		f.products = appendNew(f.products, s)
	case "vendorname", "providername", "provider", "detectionsource":
		f.providers = appendNew(f.providers, s)
	case "alerttype", "class", "signaltype":
		f.alertTypes = appendNew(f.alertTypes, s)
	case "tactics", "tactic", "category":
		f.tactics = appendNew(f.tactics, s)
	case "techniques", "mitretechniques", "subtechniques":
		f.techniques = appendNew(f.techniques, s)
	case "relatedanalyticruleids", "analyticruleids", "alertruleid", "alertrule":
		f.ruleIDs = appendNew(f.ruleIDs, s)
	case "custom details":
		// Sentinel keeps custom details as a JSON string in additionalData.
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) == nil {
			for ck, cv := range m {
				f.custom[ck] = cv
			}
		}
	}
}

// evidence reads Graph's typed evidence (processEvidence, mailboxEvidence,
// analyzedMessageEvidence, userEvidence, deviceEvidence).
func (f *rawFacts) evidence(t string, m map[string]any) {
	str := func(k string) string { s, _ := m[k].(string); return s }
	switch {
	case strings.HasSuffix(t, "processevidence"):
		if s := first(str("processCommandLine"), str("imageFileName")); s != "" {
			f.processes = appendNew(f.processes, s)
		}
		if img, ok := m["imageFile"].(map[string]any); ok {
			if s, _ := img["fileName"].(string); s != "" {
				f.processes = appendNew(f.processes, s)
			}
		}
	case strings.HasSuffix(t, "mailboxevidence"):
		if s := str("primaryAddress"); s != "" {
			f.mailboxes = appendNew(f.mailboxes, s)
		}
	case strings.HasSuffix(t, "analyzedmessageevidence"):
		for _, k := range []string{"senderIp", "p1Sender", "p2Sender"} {
			if s := str(k); s != "" && strings.Contains(s, "@") {
				f.mailboxes = appendNew(f.mailboxes, s)
			}
		}
		if rs, ok := m["recipientEmailAddress"].(string); ok && rs != "" {
			f.mailboxes = appendNew(f.mailboxes, rs)
		}
	case strings.HasSuffix(t, "userevidence"):
		if acc, ok := m["userAccount"].(map[string]any); ok {
			if s, _ := acc["userPrincipalName"].(string); s != "" {
				f.accounts = appendNew(f.accounts, s)
			}
		}
	case strings.HasSuffix(t, "deviceevidence"):
		if s := str("deviceDnsName"); s != "" {
			f.hosts = appendNew(f.hosts, s)
		}
	}
}

func appendNew(vs []string, v string) []string {
	if contains(vs, v) {
		return vs
	}
	return append(vs, v)
}
