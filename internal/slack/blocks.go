package slack

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/notify"
)

// Action ids of the page buttons.
const (
	ActionAck      = "vigil_ack"
	ActionResolve  = "vigil_resolve"
	ActionEscalate = "vigil_escalate"
)

// Page states PageMessage knows.
const (
	StateTriggered    = "triggered"
	StateAcknowledged = "acknowledged"
	StateResolved     = "resolved"
)

// Block Kit limits, in characters.
const (
	maxHeader     = 150
	maxSection    = 3000
	maxField      = 2000
	maxButtonText = 75
	maxContext    = 3000
	maxURL        = 2900 // the link's section, label included, stays under maxSection
	maxFallback   = 4000 // Slack truncates text past 40 000; a notification needs far less
)

// PageMessage renders a page as Block Kit: a header with the page number
// and title, fields for severity, urgency, service and state, the
// summary, a link to the work item, a context line, and the buttons that
// still apply in state (see the package doc). by and at say who moved
// the page to state, and when; they are shown for any state but
// triggered.
func PageMessage(n notify.Notification, state, by string, at time.Time) Message {
	title := strings.Join(strings.Fields(n.Title), " ")
	if title == "" {
		title = "(untitled)"
	}
	stateLine := describeState(state, by, at)

	blocks := []any{
		map[string]any{"type": "header", "text": plain(fmt.Sprintf("Page %d: %s", n.PageID, title), maxHeader)},
	}
	var fields []any
	for _, f := range [][2]string{
		{"Severity", n.Severity}, {"Urgency", n.Urgency}, {"Service", n.Service}, {"State", stateLine},
	} {
		if f[1] == "" {
			f[1] = "—"
		}
		fields = append(fields, mrkdwn("*"+f[0]+"*\n"+escape(f[1]), maxField))
	}
	blocks = append(blocks, map[string]any{"type": "section", "fields": fields})
	if s := strings.TrimSpace(first(n.Summary, n.Text)); s != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": mrkdwn(escape(s), maxSection)})
	}
	if link := itemLink(n); link != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": mrkdwn(link, maxSection)})
	}
	ctx := fmt.Sprintf("vigil · page %d", n.PageID)
	if n.WorkItemID != 0 {
		ctx += fmt.Sprintf(" · work item %d", n.WorkItemID)
	}
	if !n.CreatedAt.IsZero() {
		ctx += " · paged " + n.CreatedAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	blocks = append(blocks, map[string]any{"type": "context", "elements": []any{mrkdwn(escape(ctx), maxContext)}})
	if buttons := pageButtons(n.PageID, state); len(buttons) > 0 {
		blocks = append(blocks, map[string]any{
			"type": "actions", "block_id": "vigil_page_" + strconv.FormatInt(n.PageID, 10), "elements": buttons,
		})
	}
	fallback := fmt.Sprintf("Page %d: %s", n.PageID, title)
	if n.Severity != "" || n.Urgency != "" {
		fallback += fmt.Sprintf(" [%s]", strings.Trim(n.Severity+"/"+n.Urgency, "/"))
	}
	fallback += " — " + stateLine
	return Message{Text: truncateEscaped(escape(fallback), maxFallback), Blocks: blocks}
}

// describeState is the human state line: "Triggered", "Acknowledged by
// alice at 2026-12-06 01:40 UTC".
func describeState(state, by string, at time.Time) string {
	s := state
	if s == "" {
		s = StateTriggered
	}
	r, size := utf8.DecodeRuneInString(s)
	s = strings.ToUpper(string(r)) + s[size:]
	if state == StateTriggered || state == "" {
		return s
	}
	if by != "" {
		s += " by " + by
	}
	if !at.IsZero() {
		s += " at " + at.UTC().Format("2006-01-02 15:04 UTC")
	}
	return s
}

// pageButtons are the buttons that still apply in state.
func pageButtons(pageID int64, state string) []any {
	value := strconv.FormatInt(pageID, 10)
	button := func(id, text, style string) any {
		b := map[string]any{"type": "button", "action_id": id, "text": plain(text, maxButtonText), "value": value}
		if style != "" {
			b["style"] = style
		}
		return b
	}
	switch state {
	case StateTriggered:
		return []any{button(ActionAck, "Acknowledge", "primary"), button(ActionResolve, "Resolve", ""), button(ActionEscalate, "Escalate", "")}
	case StateAcknowledged:
		return []any{button(ActionResolve, "Resolve", ""), button(ActionEscalate, "Escalate", "")}
	}
	return nil
}

// itemLink is a mrkdwn link to the work item, or "" when the URL cannot
// be carried safely (it would break out of <…|…>).
func itemLink(n notify.Notification) string {
	u := strings.ReplaceAll(n.ItemURL, "&", "&amp;")
	if u == "" || len(u) > maxURL || strings.ContainsAny(u, "<>| \t\r\n") ||
		!(strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) {
		return ""
	}
	label := "Open the page"
	if n.WorkItemID != 0 {
		label = fmt.Sprintf("Open work item %d", n.WorkItemID)
	}
	return "<" + u + "|" + label + ">"
}

func plain(s string, limit int) map[string]any {
	return map[string]any{"type": "plain_text", "text": truncate(s, limit), "emoji": true}
}

func mrkdwn(s string, limit int) map[string]any {
	return map[string]any{"type": "mrkdwn", "text": truncateEscaped(s, limit)}
}

// escape makes s literal in mrkdwn: Slack asks for &, < and > to be
// escaped, and the others would start links and mentions.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// truncate cuts s to at most limit characters, ending in "…" when cut.
func truncate(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit-1]) + "…"
}

// truncateEscaped is truncate that never cuts an "&amp;"-style entity in
// two.
func truncateEscaped(s string, limit int) string {
	t := truncate(s, limit)
	if t == s {
		return t
	}
	body := strings.TrimSuffix(t, "…")
	if i := strings.LastIndexByte(body, '&'); i >= 0 && !strings.Contains(body[i:], ";") {
		body = body[:i]
	}
	return body + "…"
}
