package jira

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// issue is the part of an issue vigil reads.
type issue struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Fields struct {
		Summary  string   `json:"summary"`
		Labels   []string `json:"labels"`
		Status   *status  `json:"status"`
		Priority *struct {
			Name string `json:"name"`
		} `json:"priority"`
	} `json:"fields"`
}

type status struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	StatusCategory struct {
		Key string `json:"key"`
	} `json:"statusCategory"`
}

func (c *Client) create(ctx context.Context, p CreatePayload) error {
	ref, err := c.refs.ExternalRef(ctx, p.WorkItemID, Target)
	if err != nil {
		return &outbox.RetryableError{Err: fmt.Errorf("jira: read ref of work item %d: %w", p.WorkItemID, err)}
	}
	if ref != "" {
		return c.moveNew(ctx, p, ref) // created before; the move may not have been
	}
	label := c.Key(p.WorkItemID)
	key, err := c.findLabelled(ctx, label)
	if err != nil {
		return err
	}
	if key == "" {
		fields := map[string]any{
			"project":     map[string]string{"key": c.cfg.Project},
			"issuetype":   map[string]string{"name": c.cfg.IssueType},
			"summary":     summary(p.Title),
			"description": adfDoc(describe(p)),
			"labels":      []string{label},
		}
		if pr, ok := c.cfg.Priorities[strings.ToLower(p.Severity)]; ok && pr != "" {
			fields["priority"] = map[string]string{"name": pr}
		}
		var res struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		}
		if err := c.do(ctx, http.MethodPost, "/rest/api/3/issue", nil, map[string]any{"fields": fields}, &res); err != nil {
			return fmt.Errorf("jira: create issue for work item %d: %w", p.WorkItemID, err)
		}
		if res.Key == "" {
			return fmt.Errorf("jira: create issue for work item %d: answer has no key", p.WorkItemID)
		}
		key = res.Key
	} else if other, err := c.refs.WorkItemByRef(ctx, Target, key); err != nil {
		return &outbox.RetryableError{Err: fmt.Errorf("jira: look up issue %s: %w", key, err)}
	} else if other != 0 && other != p.WorkItemID {
		return fmt.Errorf("jira: issue %s labelled %s already mirrors work item %d", key, label, other)
	}
	if err := c.refs.SaveExternalRef(ctx, p.WorkItemID, Target, key); err != nil {
		// The issue exists with its label: the retry finds it.
		return &outbox.RetryableError{Err: fmt.Errorf("jira: save issue %s of work item %d: %w", key, p.WorkItemID, err)}
	}
	return c.moveNew(ctx, p, key)
}

// moveNew moves the issue of a work item created in a later state than
// New there. It is an update, so a resend does nothing more.
func (c *Client) moveNew(ctx context.Context, p CreatePayload, key string) error {
	want, ok := c.Status(p.State)
	if !ok || p.State == "New" {
		return nil
	}
	if err := c.update(ctx, UpdatePayload{WorkItemID: p.WorkItemID, State: p.State}); err != nil {
		return fmt.Errorf("jira: move new issue %s to %s: %w", key, want, err)
	}
	return nil
}

// findLabelled returns the key of the oldest issue of the project with
// the label, or "". It checks the labels itself too, so that a site that
// read the query differently cannot hand back someone else's issue.
func (c *Client) findLabelled(ctx context.Context, label string) (string, error) {
	jql := fmt.Sprintf(`project = %q AND labels = %q ORDER BY created ASC`, c.cfg.Project, label)
	q := url.Values{"jql": {jql}, "fields": {"labels"}, "maxResults": {"10"}}
	var res struct {
		Issues []issue `json:"issues"`
	}
	if err := c.do(ctx, http.MethodGet, "/rest/api/3/search/jql", q, nil, &res); err != nil {
		return "", fmt.Errorf("jira: search for label %s: %w", label, err)
	}
	for _, is := range res.Issues {
		for _, l := range is.Fields.Labels {
			if l == label && is.Key != "" {
				return is.Key, nil
			}
		}
	}
	return "", nil
}

func summary(title string) string {
	// Jira's summary is one line of at most 255 characters.
	s := strings.Join(strings.Fields(title), " ")
	if r := []rune(s); len(r) > 255 {
		s = string(r[:254]) + "…"
	}
	if s == "" {
		s = "vigil work item"
	}
	return s
}

func describe(p CreatePayload) string {
	var b strings.Builder
	if p.Description != "" {
		b.WriteString(p.Description + "\n")
	}
	fmt.Fprintf(&b, "vigil work item #%d", p.WorkItemID)
	if p.Severity != "" {
		b.WriteString(", severity " + p.Severity)
	}
	if p.URL != "" {
		b.WriteString(": " + p.URL)
	}
	return b.String()
}

// ref returns the key of a work item's issue; a missing one is retried,
// as the create is queued before and may not have gone through.
func (c *Client) ref(ctx context.Context, workItemID int64) (string, error) {
	ref, err := c.refs.ExternalRef(ctx, workItemID, Target)
	if err != nil {
		return "", &outbox.RetryableError{Err: fmt.Errorf("jira: read ref of work item %d: %w", workItemID, err)}
	}
	if ref == "" {
		return "", &outbox.RetryableError{Err: fmt.Errorf("jira: issue for work item %d not created yet", workItemID)}
	}
	return ref, nil
}

func gone(key string) error {
	return &outbox.ConflictError{Reason: fmt.Sprintf("Jira issue %s no longer exists", key)}
}

func (c *Client) update(ctx context.Context, p UpdatePayload) error {
	key, err := c.ref(ctx, p.WorkItemID)
	if err != nil {
		return err
	}
	var cur issue
	q := url.Values{"fields": {"status,summary,priority"}}
	if err := c.do(ctx, http.MethodGet, "/rest/api/3/issue/"+url.PathEscape(key), q, nil, &cur); errors.Is(err, errNotFound) {
		return gone(key)
	} else if err != nil {
		return fmt.Errorf("jira: get issue %s: %w", key, err)
	}
	edit := map[string]any{}
	if t := summary(p.Title); p.Title != "" && t != cur.Fields.Summary {
		edit["summary"] = t
	}
	if pr, ok := c.cfg.Priorities[strings.ToLower(p.Severity)]; ok && pr != "" &&
		(cur.Fields.Priority == nil || !strings.EqualFold(cur.Fields.Priority.Name, pr)) {
		edit["priority"] = map[string]string{"name": pr}
	}
	if len(edit) > 0 {
		err := c.do(ctx, http.MethodPut, "/rest/api/3/issue/"+url.PathEscape(key), nil, map[string]any{"fields": edit}, nil)
		if errors.Is(err, errNotFound) {
			return gone(key)
		} else if err != nil {
			return fmt.Errorf("jira: edit issue %s: %w", key, err)
		}
	}
	want, ok := c.Status(p.State)
	if !ok || cur.Fields.Status == nil || strings.EqualFold(cur.Fields.Status.Name, want) {
		return nil // not mirrored, or already so
	}
	if cur.Fields.Status.StatusCategory.Key == "done" {
		if from, ok := c.Status(p.From); !ok || !strings.EqualFold(from, cur.Fields.Status.Name) {
			return &outbox.ConflictError{Reason: fmt.Sprintf("Jira issue %s was moved to %s in Jira; not moved to %s",
				key, cur.Fields.Status.Name, want)}
		}
	}
	return c.transition(ctx, key, want, p)
}

// transition moves an issue to a status by the transition that leads
// there now.
func (c *Client) transition(ctx context.Context, key, want string, p UpdatePayload) error {
	path := "/rest/api/3/issue/" + url.PathEscape(key) + "/transitions"
	var res struct {
		Transitions []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			To   status `json:"to"`
		} `json:"transitions"`
	}
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &res); errors.Is(err, errNotFound) {
		return gone(key)
	} else if err != nil {
		return fmt.Errorf("jira: get transitions of %s: %w", key, err)
	}
	id := ""
	var offered []string
	for _, t := range res.Transitions {
		offered = append(offered, fmt.Sprintf("%q (%s) to %q", t.Name, t.ID, t.To.Name))
		if id == "" && strings.EqualFold(t.To.Name, want) {
			id = t.ID
		}
	}
	if id == "" {
		if len(offered) == 0 {
			offered = []string{"none"}
		}
		return fmt.Errorf("jira: issue %s has no transition to status %q; offered: %s (check the jira state mapping)",
			key, want, strings.Join(offered, ", "))
	}
	body := map[string]any{"transition": map[string]string{"id": id}}
	if strings.TrimSpace(p.Reason) != "" {
		text := fmt.Sprintf("vigil: %s → %s: %s", orDash(p.From), p.State, p.Reason)
		body["update"] = map[string]any{"comment": []any{map[string]any{"add": map[string]any{"body": adfDoc(text)}}}}
	}
	err := c.do(ctx, http.MethodPost, path, nil, body, nil)
	if errors.Is(err, errNotFound) {
		return gone(key)
	} else if err != nil {
		return fmt.Errorf("jira: transition %s to %s: %w", key, want, err)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// comment adds a comment ending with a marker naming the outbox message,
// unless an earlier attempt whose answer was lost added it.
func (c *Client) comment(ctx context.Context, p CommentPayload, outboxID int64) error {
	key, err := c.ref(ctx, p.WorkItemID)
	if err != nil {
		return err
	}
	path := "/rest/api/3/issue/" + url.PathEscape(key) + "/comment"
	msg := p.Message
	if outboxID != 0 {
		marker := fmt.Sprintf("[vigil #%d note %d]", p.WorkItemID, outboxID)
		found, err := c.hasComment(ctx, key, path, marker)
		if err != nil {
			return err
		}
		if found {
			return nil
		}
		msg += "\n" + marker
	}
	err = c.do(ctx, http.MethodPost, path, nil, map[string]any{"body": adfDoc(msg)}, nil)
	if errors.Is(err, errNotFound) {
		return gone(key)
	} else if err != nil {
		return fmt.Errorf("jira: comment on %s: %w", key, err)
	}
	return nil
}

// hasComment pages through the issue's comments, newest first, for one
// holding marker.
func (c *Client) hasComment(ctx context.Context, key, path, marker string) (bool, error) {
	for start := 0; ; {
		var page struct {
			StartAt  int `json:"startAt"`
			Total    int `json:"total"`
			Comments []struct {
				Body adfNode `json:"body"`
			} `json:"comments"`
		}
		q := url.Values{"startAt": {strconv.Itoa(start)}, "maxResults": {"100"}, "orderBy": {"-created"}}
		if err := c.do(ctx, http.MethodGet, path, q, nil, &page); errors.Is(err, errNotFound) {
			return false, gone(key)
		} else if err != nil {
			return false, fmt.Errorf("jira: read comments of %s: %w", key, err)
		}
		for _, cm := range page.Comments {
			if strings.Contains(adfText(cm.Body), marker) {
				return true, nil
			}
		}
		start += len(page.Comments)
		if len(page.Comments) == 0 || start >= page.Total {
			return false, nil
		}
	}
}
