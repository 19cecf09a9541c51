package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

// ackNote is why the link is safe for mail scanners to follow.
const ackNote = "Opening the link shows the page; nothing is acknowledged until you press the button there."

func subject(n Notification) string {
	if n.Subject != "" {
		return n.Subject
	}
	prefix := map[string]string{
		KindPage: "[vigil] Page", KindAcknowledged: "[vigil] Acknowledged", KindResolved: "[vigil] Resolved",
		KindVerify: "[vigil] Verify your contact method", KindTest: "[vigil] Test notification",
	}[n.Kind]
	if prefix == "" {
		prefix = "[vigil] Notification"
	}
	if n.Title != "" {
		return fmt.Sprintf("%s: %s", prefix, n.Title)
	}
	return prefix
}

type emailView struct {
	Notification
	Heading string
	AckNote string
}

var textTmpl = texttemplate.Must(texttemplate.New("text").Parse(`{{.Heading}}
{{if .Service}}Service:  {{.Service}}
{{end}}{{if .Severity}}Severity: {{.Severity}}
{{end}}{{if .Urgency}}Urgency:  {{.Urgency}}
{{end}}{{if .Summary}}
{{.Summary}}
{{end}}{{if .Text}}
{{.Text}}
{{end}}{{if .AckURL}}
Acknowledge: {{.AckURL}}
({{.AckNote}})
{{end}}{{if .ResolveURL}}Resolve: {{.ResolveURL}}
{{end}}{{if .ItemURL}}Open the work item: {{.ItemURL}}
{{end}}`))

// The HTML part is escaped by html/template; links are plain <a> tags,
// never forms, so following one does nothing but open a page.
var htmlTmpl = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><body style="font-family:sans-serif">
<h2>{{.Heading}}</h2>
{{if or .Service .Severity .Urgency}}<table>
{{if .Service}}<tr><td>Service</td><td>{{.Service}}</td></tr>{{end}}
{{if .Severity}}<tr><td>Severity</td><td>{{.Severity}}</td></tr>{{end}}
{{if .Urgency}}<tr><td>Urgency</td><td>{{.Urgency}}</td></tr>{{end}}
</table>{{end}}
{{if .Summary}}<p>{{.Summary}}</p>{{end}}
{{if .Text}}<p style="white-space:pre-wrap">{{.Text}}</p>{{end}}
{{if .AckURL}}<p><a href="{{.AckURL}}">Acknowledge</a><br><small>{{.AckNote}}</small></p>{{end}}
{{if .ResolveURL}}<p><a href="{{.ResolveURL}}">Resolve</a></p>{{end}}
{{if .ItemURL}}<p><a href="{{.ItemURL}}">Open the work item</a></p>{{end}}
</body></html>
`))

// renderEmail returns the plain-text and HTML bodies of n.
func renderEmail(n Notification) (text, html string, err error) {
	v := emailView{Notification: n, Heading: subject(n), AckNote: ackNote}
	if n.Title != "" {
		v.Heading = n.Title
	}
	var tb, hb bytes.Buffer
	if err := textTmpl.Execute(&tb, v); err != nil {
		return "", "", fmt.Errorf("render text body: %w", err)
	}
	if err := htmlTmpl.Execute(&hb, v); err != nil {
		return "", "", fmt.Errorf("render HTML body: %w", err)
	}
	return strings.TrimRight(tb.String(), "\n") + "\n", hb.String(), nil
}
