package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
)

func (u *UI) funcs() template.FuncMap {
	return template.FuncMap{
		"age":      u.age,
		"ago":      u.ago,
		"count":    thousands,
		"when":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"lower":    strings.ToLower,
		"join":     strings.Join,
		"pretty":   prettyJSON,
		"initials": initials,
		"add":      func(a, b int) int { return a + b },
		"dur":      func(d time.Duration) string { return d.Round(time.Millisecond).String() },
		"per":      per,
		"isZero":   func(t time.Time) bool { return t.IsZero() },
		"deref": func(t *time.Time) time.Time {
			if t == nil {
				return time.Time{}
			}
			return *t
		},
	}
}

// age is a compact "how long ago" for cards: 45s, 12m, 3h, 5d.
func (u *UI) age(t time.Time) string {
	d := u.clock.Now().Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// ago is a longer "how long ago" for text that reads as a phrase:
// "last alert 4 min ago".
func (u *UI) ago(t time.Time) string {
	d := u.clock.Now().Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h ago"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " days ago"
}

// thousands writes a count with thousands separators: 12,345. Every count
// the UI prints goes through it (the "count" template func), and app.js
// formats the counts of live updates the same way.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	if len(s) <= 3 {
		if neg {
			return "-" + s
		}
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/3 + 1)
	if neg {
		b.WriteByte('-')
	}
	head := len(s) % 3
	if head == 0 {
		head = 3
	}
	b.WriteString(s[:head])
	for i := head; i < len(s); i += 3 {
		b.WriteByte(',')
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

func prettyJSON(b json.RawMessage) string {
	if len(b) == 0 {
		return ""
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

func initials(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return "–"
	}
	if at := strings.IndexByte(name, '@'); at > 0 {
		name = name[:at]
	}
	parts := strings.FieldsFunc(name, func(r rune) bool { return r == '.' || r == ' ' || r == '_' || r == '-' })
	var b strings.Builder
	for _, p := range parts {
		if p != "" {
			b.WriteString(strings.ToUpper(p[:1]))
		}
		if b.Len() == 2 {
			break
		}
	}
	if b.Len() == 0 {
		return strings.ToUpper(name[:1])
	}
	return b.String()
}

// per names a rate's window: "minute" rather than "1m0s".
func per(d time.Duration) string {
	switch d {
	case time.Second:
		return "second"
	case time.Minute:
		return "minute"
	case time.Hour:
		return "hour"
	}
	return d.String()
}
