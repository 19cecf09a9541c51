package jirasim

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	orderBy = regexp.MustCompile(`(?i)\s+ORDER\s+BY\s+(\w+)(?:\s+(ASC|DESC))?\s*$`)
	clause  = regexp.MustCompile(`^\s*(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s"]+)\s*$`)
	andSep  = regexp.MustCompile(`(?i)\s+AND\s+`)
)

// parseJQL understands the subset described in the package documentation.
// An unbounded query is refused, as the enhanced search does.
func parseJQL(jql string) (match func(*Issue, string) bool, desc, byKey bool, errMsg string) {
	if m := orderBy.FindStringSubmatch(jql); m != nil {
		f := strings.ToLower(m[1])
		if f != "created" && f != "key" {
			return nil, false, false, fmt.Sprintf("Field '%s' does not exist or you do not have permission to view it.", m[1])
		}
		desc, byKey = strings.EqualFold(m[2], "DESC"), f == "key"
		jql = jql[:len(jql)-len(m[0])]
	}
	if strings.TrimSpace(jql) == "" {
		return nil, false, false, "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
	}
	var conds []func(*Issue, string) bool
	for _, part := range andSep.Split(jql, -1) {
		m := clause.FindStringSubmatch(part)
		if m == nil {
			return nil, false, false, fmt.Sprintf("Error in the JQL Query: cannot parse %q.", strings.TrimSpace(part))
		}
		field, val := strings.ToLower(m[1]), m[2]
		if strings.HasPrefix(val, `"`) {
			if u, err := strconv.Unquote(val); err == nil {
				val = u
			} else if json.Unmarshal([]byte(val), &val) != nil {
				return nil, false, false, fmt.Sprintf("Error in the JQL Query: bad string %s.", m[2])
			}
		}
		switch field {
		case "project":
			conds = append(conds, func(_ *Issue, p string) bool { return strings.EqualFold(p, val) || val == projectID })
		case "key", "issuekey":
			conds = append(conds, func(is *Issue, _ string) bool { return strings.EqualFold(is.Key, val) })
		case "status":
			conds = append(conds, func(is *Issue, _ string) bool { return strings.EqualFold(is.Status, val) })
		case "labels":
			conds = append(conds, func(is *Issue, _ string) bool {
				ls, _ := is.Fields["labels"].([]any)
				return slices.ContainsFunc(ls, func(l any) bool { return l == val }) // labels are case-sensitive
			})
		default:
			return nil, false, false, fmt.Sprintf("Field '%s' does not exist or you do not have permission to view it.", m[1])
		}
	}
	return func(is *Issue, project string) bool {
		for _, c := range conds {
			if !c(is, project) {
				return false
			}
		}
		return true
	}, desc, byKey, ""
}

// adfText is the text of an ADF document, one line per paragraph.
func adfText(raw []byte) string {
	var n struct {
		Type    string            `json:"type"`
		Text    string            `json:"text"`
		Content []json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &n) != nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(n.Text)
	for _, c := range n.Content {
		b.WriteString(adfText(c))
	}
	if n.Type == "paragraph" {
		b.WriteByte('\n')
	}
	return b.String()
}
