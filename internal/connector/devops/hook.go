package devops

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Change is what a workitem.updated service hook says happened to a
// Boards work item. OldState equals NewState when the state did not
// change (a title edit, a comment).
type Change struct {
	BoardsID, Rev      int
	OldState, NewState string
	ChangedBy          string // unique name (mail) when the payload has one
	Reason             string
	Type               string // the Boards type
	Tags               []string
	// VigilID comes from the vigil-<id> tag, 0 if none. Any Boards user
	// can edit tags, so it is a hint; WorkItemFor trusts only Refs.
	VigilID int64
}

// hookField is one entry of resource.fields: a change of one field.
type hookField struct {
	OldValue any `json:"oldValue"`
	NewValue any `json:"newValue"`
}

type hookBody struct {
	EventType string `json:"eventType"`
	Resource  *struct {
		WorkItemID any                  `json:"workItemId"`
		Rev        any                  `json:"rev"`
		RevisedBy  map[string]any       `json:"revisedBy"`
		Fields     map[string]hookField `json:"fields"`
		Revision   *struct {
			ID     any            `json:"id"`
			Rev    any            `json:"rev"`
			Fields map[string]any `json:"fields"`
		} `json:"revision"`
	} `json:"resource"`
}

// ParseHook reads a workitem.updated payload (resource version 1.0). The
// current values come from resource.revision.fields, the state change
// from resource.fields; errors name the field that is missing or bad.
func ParseHook(body []byte) (Change, error) {
	var h hookBody
	if err := json.Unmarshal(body, &h); err != nil {
		return Change{}, fmt.Errorf("devops hook: not a JSON object: %w", err)
	}
	if h.EventType != "workitem.updated" {
		return Change{}, fmt.Errorf("devops hook: eventType %q, want workitem.updated", h.EventType)
	}
	res := h.Resource
	if res == nil {
		return Change{}, errors.New("devops hook: resource is missing")
	}
	if res.Revision == nil || res.Revision.Fields == nil {
		return Change{}, errors.New("devops hook: resource.revision.fields is missing")
	}
	rf := res.Revision.Fields
	var ch Change
	var err error
	// Microsoft's sample payload has workItemId 0 and the id only in
	// resource.revision.id; live payloads have both.
	if ch.BoardsID, err = number("resource.workItemId", res.WorkItemID); err != nil {
		return Change{}, err
	}
	if ch.BoardsID == 0 {
		if ch.BoardsID, err = number("resource.revision.id", res.Revision.ID); err != nil {
			return Change{}, err
		}
	}
	if ch.BoardsID <= 0 {
		return Change{}, errors.New("devops hook: resource.workItemId is missing")
	}
	if ch.Rev, err = number("resource.rev", res.Rev); err != nil {
		return Change{}, err
	}
	if ch.Rev == 0 {
		if ch.Rev, err = number("resource.revision.rev", res.Revision.Rev); err != nil {
			return Change{}, err
		}
	}
	if ch.Rev <= 0 {
		return Change{}, errors.New("devops hook: resource.rev is missing")
	}
	if ch.Type, err = text("resource.revision.fields[System.WorkItemType]", rf["System.WorkItemType"]); err != nil {
		return Change{}, err
	}
	if ch.Type == "" {
		return Change{}, errors.New("devops hook: resource.revision.fields[System.WorkItemType] is missing")
	}
	current, _ := rf["System.State"].(string)
	if sc, ok := res.Fields["System.State"]; ok {
		ch.OldState, _ = sc.OldValue.(string)
		ch.NewState, _ = sc.NewValue.(string)
	}
	if ch.NewState == "" {
		ch.NewState = current
	}
	if ch.NewState == "" {
		return Change{}, errors.New("devops hook: resource.fields[System.State].newValue and resource.revision.fields[System.State] are missing")
	}
	if ch.OldState == "" {
		ch.OldState = ch.NewState
	}
	if rc, ok := res.Fields["System.Reason"]; ok && rc.NewValue != nil {
		ch.Reason, _ = rc.NewValue.(string)
	} else {
		ch.Reason, _ = rf["System.Reason"].(string)
	}
	// Who made this revision: revisedBy when present, then the change of
	// System.ChangedBy, then the revision's value.
	switch {
	case identity(res.RevisedBy) != "":
		ch.ChangedBy = identity(res.RevisedBy)
	case identity(res.Fields["System.ChangedBy"].NewValue) != "":
		ch.ChangedBy = identity(res.Fields["System.ChangedBy"].NewValue)
	default:
		ch.ChangedBy = identity(rf["System.ChangedBy"])
	}
	tags, _ := rf["System.Tags"].(string)
	ch.Tags = splitTags(tags)
	ch.VigilID = vigilIDFromTags(ch.Tags)
	return ch, nil
}

// number reads a JSON number, or a number in a string as Microsoft's
// sample payloads have some.
func number(name string, v any) (int, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case float64:
		if v == float64(int(v)) {
			return int(v), nil
		}
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("devops hook: %s is %v, want a whole number", name, v)
}

func text(name string, v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", fmt.Errorf("devops hook: %s is %v, want a string", name, v)
}

// vigilIDFromTags finds the vigil-<id> tag; Boards ignores case in tags.
func vigilIDFromTags(tags []string) int64 {
	for _, t := range tags {
		if len(t) > len("vigil-") && strings.EqualFold(t[:len("vigil-")], "vigil-") {
			if id, err := strconv.ParseInt(t[len("vigil-"):], 10, 64); err == nil && id > 0 {
				return id
			}
		}
	}
	return 0
}

// WorkItemFor returns the vigil work item a change concerns, 0 when vigil
// does not mirror that Boards item. Only Refs count: a vigil-<id> tag
// typed by a user on an unrelated item must not move a vigil work item.
func (c *Client) WorkItemFor(ctx context.Context, ch Change) (int64, error) {
	id, err := c.refs.WorkItemByRef(ctx, Target, strconv.Itoa(ch.BoardsID))
	if err != nil {
		return 0, fmt.Errorf("devops: work item for Boards item %d: %w", ch.BoardsID, err)
	}
	return id, nil
}

// CheckBasicAuth reports whether r carries the service hook's basic
// credentials. Both comparisons always run and take constant time, so the
// answer's timing tells nothing about which part was wrong; an empty
// configured password accepts nothing.
func CheckBasicAuth(r *http.Request, user, password string) bool {
	u, p, ok := r.BasicAuth()
	if !ok || password == "" {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(u), []byte(user))
	passOK := subtle.ConstantTimeCompare([]byte(p), []byte(password))
	return userOK&passOK == 1
}
