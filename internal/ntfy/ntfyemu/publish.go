package ntfyemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
)

// publish is ntfy's "Publish as JSON" body, the fields the emulator knows.
type publish struct {
	Topic    string   `json:"topic"`
	Title    string   `json:"title"`
	Message  string   `json:"message"`
	Priority int      `json:"priority"`
	Tags     []string `json:"tags"`
	Click    string   `json:"click"`
	Markdown bool     `json:"markdown"`
	Actions  []action `json:"actions"`
}

type action struct {
	ID      string            `json:"id,omitempty"`
	Action  string            `json:"action"`
	Label   string            `json:"label"`
	URL     string            `json:"url,omitempty"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	Intent  string            `json:"intent,omitempty"`
	Extras  map[string]string `json:"extras,omitempty"`
	Clear   bool              `json:"clear,omitempty"`
}

// apiError is ntfy's error JSON. Codes follow ntfy's server/errors.go.
type apiError struct {
	Code  int    `json:"code"`
	HTTP  int    `json:"http"`
	Error string `json:"error"`
	Link  string `json:"link,omitempty"`
}

const (
	maxActions     = 3
	maxMessageSize = 4096
)

var topicRE = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)

// parsePublish decodes and checks a JSON publish as ntfy does
// (server/server.go transformBodyJSON and server/actions.go @ 81a486ad,
// whose error codes and texts it answers with): a valid topic, a priority
// of 0 (unset) to 5, at most three actions, each view, broadcast or http
// with a label, view and http ones with a URL, no body on a GET or HEAD.
// It is stricter than ntfy in three ways, to catch vigil's mistakes: URLs
// (click, actions) must be absolute, an http action's http(s); a method
// and header names must be HTTP tokens; a message over 4096 bytes (which
// ntfy would turn into an attachment) is refused 413.
func parsePublish(body []byte) (publish, *apiError) {
	var p publish
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		return p, errJSONInvalid
	}
	if _, err := dec.Token(); err != io.EOF {
		return p, errJSONInvalid
	}
	if !topicRE.MatchString(p.Topic) {
		return p, &apiError{Code: 40009, HTTP: 400, Error: "invalid request: topic invalid"}
	}
	if p.Priority < 0 || p.Priority > 5 {
		return p, &apiError{Code: 40007, HTTP: 400, Error: "invalid priority parameter", Link: "https://ntfy.sh/docs/publish/#message-priority"}
	}
	if len(p.Message) > maxMessageSize {
		return p, &apiError{Code: 41303, HTTP: 413, Error: "JSON body too large; the emulator takes no attachments, and ntfy would turn a message over 4096 bytes into one"}
	}
	if len(p.Actions) > maxActions {
		return p, actionsInvalid(fmt.Sprintf("only %d actions allowed", maxActions))
	}
	if p.Click != "" && !absURL(p.Click, false) {
		return p, &apiError{Code: 40000, HTTP: 400, Error: "invalid request: click URL invalid (an emulator check)"}
	}
	for i := range p.Actions {
		a := &p.Actions[i]
		a.Action = strings.ToLower(strings.TrimSpace(a.Action))
		switch a.Action {
		case "view", "http":
			// ntfy only requires a URL; the emulator also checks that it
			// is absolute (and http(s) for an http action) to catch
			// vigil building a relative link.
			if !absURL(a.URL, a.Action == "http") {
				return p, actionsInvalid(fmt.Sprintf("parameter 'url' is required for action '%s' (the emulator wants an absolute URL)", a.Action))
			}
		case "broadcast":
		default:
			return p, actionsInvalid(fmt.Sprintf("parameter 'action' cannot be '%s', valid values are 'view', 'broadcast' and 'http'", a.Action))
		}
		if strings.TrimSpace(a.Label) == "" {
			return p, actionsInvalid(fmt.Sprintf("parameter 'label' is required for action %d", i+1))
		}
		if a.Action == "http" {
			a.Method = strings.ToUpper(a.Method)
			if a.Method == "" {
				a.Method = "POST"
			}
			if (a.Method == "GET" || a.Method == "HEAD") && a.Body != "" {
				return p, actionsInvalid(fmt.Sprintf("parameter 'body' cannot be set if method is %s", a.Method))
			}
			if !tokenRE.MatchString(a.Method) {
				return p, actionsInvalid(fmt.Sprintf("method %q invalid for action %d", a.Method, i+1))
			}
			for k := range a.Headers {
				if !tokenRE.MatchString(k) {
					return p, actionsInvalid(fmt.Sprintf("header name %q invalid for action %d", k, i+1))
				}
			}
		}
	}
	return p, nil
}

var tokenRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func actionsInvalid(detail string) *apiError {
	return &apiError{Code: 40018, HTTP: 400, Error: "invalid request: actions invalid; " + detail, Link: "https://ntfy.sh/docs/publish/#action-buttons"}
}

func absURL(s string, httpOnly bool) bool {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return false
	}
	if httpOnly || u.Scheme == "http" || u.Scheme == "https" {
		return (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	}
	return true // mailto:, geo:, app links
}

// CheckPublish reports whether body is a JSON publish the emulator (and
// so, as far as it knows, ntfy) takes; the error is ntfy's error text.
func CheckPublish(body []byte) error {
	if _, perr := parsePublish(body); perr != nil {
		return fmt.Errorf("HTTP %d: %s (code %d)", perr.HTTP, perr.Error, perr.Code)
	}
	return nil
}

// errJSONInvalid is ntfy's answer to a body that is not JSON (or not
// one object).
var errJSONInvalid = &apiError{Code: 40024, HTTP: 400, Error: "invalid request: request body must be valid JSON"}
