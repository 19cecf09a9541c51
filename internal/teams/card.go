package teams

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/notify"
)

// Card schema and version. 1.5 is the newest version Teams renders on
// every client (desktop, web and mobile).
const (
	SchemaURL   = "http://adaptivecards.io/schemas/adaptive-card.json"
	CardVersion = "1.5"
	// ContentType is the attachment content type of an Adaptive Card.
	ContentType = "application/vnd.microsoft.card.adaptive"
)

// AckNote tells the reader why pressing Acknowledge opens a page instead
// of acting at once.
const AckNote = "Acknowledge opens vigil's page for this alert; press its button there. Opening the link alone acknowledges nothing."

// Action titles, which tests and the emulator look buttons up by.
const (
	ActionAcknowledge = "Acknowledge"
	ActionOpen        = "Open in vigil"
)

// Teams refuses webhook payloads over about 28 KB; long alert texts are
// cut well below that so that the card always goes through.
const (
	maxTitle = 300
	maxText  = 8000
)

// Card renders n as an Adaptive Card. A page has a title, a FactSet
// (severity, urgency, service, state), its text, any bundled pages and two
// actions: Acknowledge (the signed link) and Open in vigil. Other kinds
// (verify, test, acknowledged, resolved) get a title and text only.
func Card(n notify.Notification) map[string]any {
	var body []any
	if n.Kind != notify.KindPage {
		body = append(body, title(otherTitle(n)))
		if t := strings.TrimSpace(n.Text); t != "" {
			body = append(body, text(t))
		}
		return card(body, nil)
	}
	body = append(body, title(fmt.Sprintf("Page %d: %s", n.PageID, oneLine(n.Title))))
	if facts := pageFacts(n); len(facts) > 0 {
		body = append(body, map[string]any{"type": "FactSet", "facts": facts})
	}
	if t := strings.TrimSpace(n.Text); t != "" {
		body = append(body, text(t))
	}
	if len(n.Bundle) > 0 {
		body = append(body, text(bundleText(n.Bundle)))
	}
	var actions []any
	if n.AckURL != "" {
		body = append(body, map[string]any{
			"type": "TextBlock", "text": AckNote, "wrap": true, "size": "small", "isSubtle": true,
		})
		actions = append(actions, openURL(ActionAcknowledge, n.AckURL))
	}
	if n.ItemURL != "" {
		actions = append(actions, openURL(ActionOpen, n.ItemURL))
	}
	return card(body, actions)
}

// Envelope wraps a card as a Workflows webhook expects it: a message
// with one Adaptive Card attachment, the shape of the fixture.
func Envelope(card map[string]any) map[string]any {
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": ContentType,
			"contentUrl":  nil,
			"content":     card,
		}},
	}
}

func card(body, actions []any) map[string]any {
	c := map[string]any{
		"$schema": SchemaURL,
		"type":    "AdaptiveCard",
		"version": CardVersion,
		"body":    body,
	}
	if len(actions) > 0 {
		c["actions"] = actions
	}
	return c
}

func title(s string) map[string]any {
	return map[string]any{"type": "TextBlock", "text": s, "weight": "bolder", "size": "medium", "wrap": true}
}

func text(s string) map[string]any {
	return map[string]any{"type": "TextBlock", "text": shorten(s, maxText), "wrap": true}
}

func openURL(title, url string) map[string]any {
	return map[string]any{"type": "Action.OpenUrl", "title": title, "url": url}
}

// pageFacts lists the page's attributes that are known: a Fact with an
// empty value renders as a dangling label.
func pageFacts(n notify.Notification) []any {
	var facts []any
	for _, f := range [][2]string{
		{"Severity", n.Severity},
		{"Urgency", n.Urgency},
		{"Service", n.Service},
		{"State", "triggered"},
	} {
		if v := oneLine(f[1]); v != "" {
			facts = append(facts, map[string]any{"title": f[0], "value": v})
		}
	}
	return facts
}

// otherTitle is the heading of a card that is not a page: the subject
// (which holds the code of a verification), or what happened to the page.
func otherTitle(n notify.Notification) string {
	if s := oneLine(strings.TrimPrefix(n.Subject, "[vigil] ")); s != "" {
		return s
	}
	switch n.Kind {
	case notify.KindAcknowledged, notify.KindResolved:
		s := fmt.Sprintf("Page %d %s", n.PageID, n.Kind)
		if n.By != "" {
			s += " by " + oneLine(n.By)
		}
		return s
	case notify.KindVerify:
		return "vigil verification"
	}
	return "vigil test notification"
}

func bundleText(pages []notify.BundledPage) string {
	var b strings.Builder
	b.WriteString("Also waiting:")
	for _, p := range pages {
		fmt.Fprintf(&b, "\n- Page %d (%s): %s", p.PageID, oneLine(p.Urgency), oneLine(p.Title))
	}
	return b.String()
}

// oneLine folds whitespace, so that a title or fact stays on its line,
// and keeps it short.
func oneLine(s string) string {
	return shorten(strings.Join(strings.Fields(s), " "), maxTitle)
}

// shorten cuts s to at most max bytes on a rune boundary, with an
// ellipsis, and replaces invalid UTF-8 (which JSON would mangle anyway).
func shorten(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
