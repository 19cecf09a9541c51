package ui

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// The item page opens with what an analyst reads first: what happened
// (the description), how bad (severity), what the attacker was after
// (MITRE tactics), what it touched (entities) and where to look at the
// source (portal links). This file derives that summary from the linked
// records, and the comment box's note on where a comment goes.

// maxSummaryEntities bounds the entities the summary lists; every alert's
// own entities are still in its record below.
const maxSummaryEntities = 30

// description is the first description among the incidents, then the
// alerts: an incident's describes the whole story.
func description(incidents []alert.Incident, alerts []alert.Alert) string {
	for _, in := range incidents {
		if d := strings.TrimSpace(in.Description); d != "" {
			return d
		}
	}
	for _, a := range alerts {
		if d := strings.TrimSpace(a.Description); d != "" {
			return d
		}
	}
	return ""
}

// keyEntities lists the alerts' entities once each, in the order the
// alerts name them, and reports how many more there were.
func keyEntities(alerts []alert.Alert) ([]alert.Entity, int) {
	var out []alert.Entity
	seen := map[string]bool{}
	more := 0
	for _, a := range alerts {
		for _, e := range a.Entities {
			k := string(e.Kind) + "\x00" + e.Value
			if seen[k] {
				continue
			}
			seen[k] = true
			if len(out) == maxSummaryEntities {
				more++
				continue
			}
			out = append(out, e)
		}
	}
	return out, more
}

// mitreTactics are the MITRE ATT&CK enterprise tactics as the Microsoft
// APIs spell them, and Defender for Cloud's "PreAttack". Graph's alert
// category is a tactic only when it is one of these.
var mitreTactics = []string{"Reconnaissance", "ResourceDevelopment", "InitialAccess", "Execution", "Persistence",
	"PrivilegeEscalation", "DefenseEvasion", "CredentialAccess", "Discovery", "LateralMovement", "Collection",
	"CommandAndControl", "Exfiltration", "Impact", "PreAttack"}

// tactics collects the MITRE tactics the linked records name, once each:
//   - Sentinel incidents: properties.additionalData.tactics;
//   - Sentinel alerts: properties.tactics;
//   - Defender for Cloud alerts: properties.intent, comma-separated;
//   - Graph security alerts: category, when it names a tactic.
func tactics(incidents []alert.Incident, alerts []alert.Alert) []string {
	var out []string
	add := func(names ...string) {
		for _, n := range names {
			n = strings.TrimSpace(n)
			if n != "" && !strings.EqualFold(n, "unknown") && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	for _, in := range incidents {
		add(tacticsIn(in.Raw)...)
	}
	for _, a := range alerts {
		add(tacticsIn(a.Raw)...)
	}
	return out
}

func tacticsIn(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var doc map[string]any
	if json.Unmarshal(raw, &doc) != nil {
		return nil
	}
	props := asMap(doc["properties"])
	var out []string
	out = append(out, stringList(doc["tactics"])...)
	out = append(out, stringList(props["tactics"])...)
	out = append(out, stringList(asMap(props["additionalData"])["tactics"])...)
	if s, ok := props["intent"].(string); ok {
		out = append(out, strings.Split(s, ",")...)
	}
	if s, ok := doc["category"].(string); ok && slices.Contains(mitreTactics, s) {
		out = append(out, s)
	}
	return out
}

// stringList reads a JSON array of strings, or a comma-separated string.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Split(v, ",")
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// tacticLabel spells a tactic as people read it: "InitialAccess" is
// "Initial Access".
func tacticLabel(t string) string {
	var b strings.Builder
	for i, r := range t {
		if i > 0 && r >= 'A' && r <= 'Z' && t[i-1] >= 'a' && t[i-1] <= 'z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// targetNames names outbox targets as analysts know them.
var targetNames = map[string]string{
	sentinel.Source: "Sentinel",
	graph.Target:    "Graph",
	"defender":      "Defender for Cloud",
	"devops":        "Azure Boards",
	"freshdesk":     "Freshdesk",
	"servicenow":    "ServiceNow",
}

// commentNote says where a comment on the item will be mirrored, from the
// writes the planner would queue for one (workitem.Service.CommentMirrors):
// the words follow what happens, whatever the planner decides.
func commentNote(msgs []outbox.Message) string {
	if len(msgs) == 0 {
		return "Comments on this item stay in vigil: it has no Sentinel incident, Graph alert or tracker to mirror them to."
	}
	var order []string
	count := map[string]int{}
	for _, m := range msgs {
		if count[m.Target] == 0 {
			order = append(order, m.Target)
		}
		count[m.Target]++
	}
	parts := make([]string, len(order))
	for i, t := range order {
		name := targetNames[t]
		if name == "" {
			name = t
		}
		switch t {
		case sentinel.Source:
			name += " (" + plural(count[t], "incident") + ")"
		case graph.Target:
			name += " (" + plural(count[t], "alert") + ")"
		}
		parts[i] = name
	}
	return "Comments are mirrored to " + joinAnd(parts) + "."
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// joinAnd joins "a", "b" and "c" as "a, b and c".
func joinAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// isSyncTraffic reports a timeline entry that records sync plumbing (a
// write-back queued, sent, retried or failed; a record mirrored; a poller
// claiming an alert) rather than a decision or a person's action; the
// timeline hides those unless asked for all. Sync entries written by
// vigil's own machinery are plumbing; the reconciler's (it decides to
// close or reopen an incident, and says why) and a person's (retry now)
// are not. Unknown actors are shown: hiding a decision is worse than
// showing a line of plumbing.
func isSyncTraffic(e workitem.Entry) bool {
	return e.Kind == workitem.KindSync && (e.Actor == "vigil" || strings.HasSuffix(e.Actor, "-poller"))
}
