package ntfy

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/notify"
)

// Message is ntfy's "Publish as JSON" body.
type Message struct {
	Topic    string   `json:"topic"`
	Title    string   `json:"title,omitempty"`
	Message  string   `json:"message"`
	Priority int      `json:"priority,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	Click    string   `json:"click,omitempty"`
	Actions  []Action `json:"actions,omitempty"`
}

// Action is an action button. Method, Headers, Body apply to "http".
type Action struct {
	Action  string            `json:"action"` // "view" or "http"
	Label   string            `json:"label"`
	URL     string            `json:"url"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	Clear   bool              `json:"clear,omitempty"`
}

// Priorities (ntfy: 1 min … 3 default … 5 max).
const (
	PriorityDefault = 3
	PriorityMax     = 5
)

// Button labels.
const (
	LabelAcknowledge = "Acknowledge"
	LabelOpen        = "Open"
)

// AckBody is the form a POST to vigil's /ack/{token} carries to act.
const AckBody = "action=acknowledge"

const (
	maxMessage = 4000 // under ntfy's 4096-byte limit, beyond which a message becomes an attachment
	maxTitle   = 250
)

// NewMessage builds the publish body for n to topic.
func NewMessage(topic string, n notify.Notification) Message {
	m := Message{Topic: topic, Priority: PriorityDefault}
	switch n.Kind {
	case notify.KindPage:
		m.Title = shorten(oneLine(fmt.Sprintf("Page %d: %s", n.PageID, n.Title)), maxTitle)
		if strings.EqualFold(n.Urgency, "high") {
			m.Priority, m.Tags = PriorityMax, []string{"rotating_light"}
		} else {
			m.Tags = []string{"warning"}
		}
		m.Message = pageText(n)
		m.Click = n.ItemURL
		if n.AckURL != "" {
			m.Actions = append(m.Actions, Action{
				Action: "http", Label: LabelAcknowledge, URL: n.AckURL, Method: "POST",
				Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
				Body:    AckBody, Clear: true,
			})
		}
		if n.ItemURL != "" {
			m.Actions = append(m.Actions, Action{Action: "view", Label: LabelOpen, URL: n.ItemURL})
		}
	default:
		m.Title = shorten(oneLine(strings.TrimPrefix(n.Subject, "[vigil] ")), maxTitle)
		switch n.Kind {
		case notify.KindAcknowledged:
			m.Tags = []string{"white_check_mark"}
		case notify.KindResolved:
			m.Tags = []string{"heavy_check_mark"}
		case notify.KindVerify:
			m.Tags = []string{"key"}
		case notify.KindTest:
			m.Tags = []string{"test_tube"}
		}
		if m.Title == "" && (n.Kind == notify.KindAcknowledged || n.Kind == notify.KindResolved) {
			m.Title = fmt.Sprintf("Page %d %s", n.PageID, n.Kind)
		}
		m.Message = shorten(strings.TrimSpace(n.Text), maxMessage)
		if n.Kind == notify.KindAcknowledged || n.Kind == notify.KindResolved {
			m.Click = n.ItemURL
		}
	}
	// ntfy publishes an empty message as "triggered": say something.
	if m.Message == "" {
		m.Message = m.Title
	}
	if m.Message == "" {
		m.Message = "vigil " + n.Kind
	}
	return m
}

func pageText(n notify.Notification) string {
	var b strings.Builder
	var facts []string
	for _, f := range []string{n.Severity, n.Urgency, n.Service} {
		if f = oneLine(f); f != "" {
			facts = append(facts, f)
		}
	}
	if len(facts) > 0 {
		b.WriteString(strings.Join(facts, " · "))
		b.WriteString("\n")
	}
	b.WriteString(strings.TrimSpace(n.Text))
	if len(n.Bundle) > 0 {
		b.WriteString("\nAlso waiting:")
		for _, p := range n.Bundle {
			fmt.Fprintf(&b, "\n- Page %d (%s): %s", p.PageID, oneLine(p.Urgency), oneLine(p.Title))
		}
	}
	return shorten(strings.TrimSpace(b.String()), maxMessage)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// shorten cuts s to at most max bytes on a rune boundary, with an
// ellipsis; invalid UTF-8 is replaced.
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
