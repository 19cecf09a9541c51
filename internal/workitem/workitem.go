// Package workitem is the tracked unit of work on the board: its model,
// the configurable process (states and transitions) and the service that
// applies changes with authorization and a timeline entry for each.
package workitem

import (
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
)

// Type is the kind of work item. Sentinel incidents and alerts become
// Issues; Defender for Cloud alerts and recommendations become Problems.
type Type string

// Work item types.
const (
	TypeIssue   Type = "Issue"
	TypeProblem Type = "Problem"
	TypeTask    Type = "Task"
)

// Item is one work item.
type Item struct {
	ID         int64          `json:"id"`
	Type       Type           `json:"type"`
	Title      string         `json:"title"`
	State      string         `json:"state"`
	Severity   alert.Severity `json:"severity"`
	Assignee   string         `json:"assignee"`
	Tags       []string       `json:"tags"`
	Source     string         `json:"source"`
	Rev        int            `json:"rev"`
	AlertCount int            `json:"alert_count"`
	// PreviousID links an item opened by a re-fired alert to the closed
	// item that tracked the same alert before.
	PreviousID int64      `json:"previous_id,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	LastSeen   time.Time  `json:"last_seen"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	// KeyEntity is the entity the item's first alert leads with, as
	// "kind value" ("host vm-web-01"), so that cards can be told apart.
	KeyEntity string `json:"key_entity,omitempty"`
	// SourceResolvedAt is set while every alert of the item is resolved
	// or dismissed at its source.
	SourceResolvedAt *time.Time `json:"source_resolved_at,omitempty"`
	// MergedInto names the item this one was folded into (a Problem item
	// whose Defender alert turned out to belong to a Sentinel incident).
	MergedInto int64 `json:"merged_into,omitempty"`
	// DueAt is when the work should be done (a recommendation's
	// remediation due date, written back as its governance assignment).
	DueAt *time.Time `json:"due_at,omitempty"`

	// Filled only on single-item reads.
	AlertIDs    []int64 `json:"alert_ids,omitempty"`
	IncidentIDs []int64 `json:"incident_ids,omitempty"`
}

// Entry is one line of an item's timeline: every change and every decision
// the system takes, with who took it and why.
type Entry struct {
	ID         int64     `json:"id"`
	WorkItemID int64     `json:"workitem_id"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Kind       string    `json:"kind"`
	Message    string    `json:"message"`
	Reason     string    `json:"reason,omitempty"`
	Data       any       `json:"data,omitempty"`
}

// Timeline entry kinds.
const (
	KindCreated    = "created"
	KindAlert      = "alert"      // an alert was linked or fired again
	KindIncident   = "incident"   // an incident was linked or updated
	KindTransition = "transition" // state change
	KindUpdate     = "update"     // field change (assignee, severity, tags, title)
	KindComment    = "comment"
	KindTask       = "task"
	KindReopened   = "reopened" // a new item was opened for a re-fired alert
	KindSync       = "sync"     // a write-back to an external system: queued, sent, retried, failed
	KindMerged     = "merged"   // an item was folded into the item of the incident its alert belongs to
	KindRule       = "rule"     // an automation rule matched (or failed to evaluate) and what it did
	KindPage       = "page"     // on-call: a page was raised, escalated, acknowledged, resolved, and its notifications
)

// Comment is a note on an item.
type Comment struct {
	ID         int64     `json:"id"`
	WorkItemID int64     `json:"workitem_id"`
	At         time.Time `json:"at"`
	Author     string    `json:"author"`
	Body       string    `json:"body"`
}

// Task is one entry of an item's checklist.
type Task struct {
	ID         int64     `json:"id"`
	WorkItemID int64     `json:"workitem_id"`
	Title      string    `json:"title"`
	Done       bool      `json:"done"`
	DoneBy     string    `json:"done_by,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Filter selects work items. Zero fields do not filter.
type Filter struct {
	States   []string
	Type     Type
	Severity alert.Severity
	Source   string
	Assignee string
	Tag      string
	// Text is a case-insensitive substring of the title or of the item's
	// search text (its alerts' entities: host, account, IP, URL, hash).
	Text string
	// After is the keyset cursor: only items with ID < After (newest first).
	After int64
	// Oldest lists oldest first instead (After is then ignored): the
	// triage queue's order.
	Oldest bool
	Limit  int
	// Sort orders each board column (one of the Sort constants; "" is
	// newest first). Lists ignore it: their pages are keyset by id.
	Sort string
	// HideMerged leaves out items merged into another. The board never
	// shows them; lists do unless this is set.
	HideMerged bool
}

// Board column orders (Filter.Sort).
const (
	SortNewest   = ""         // newest created first
	SortOldest   = "oldest"   // oldest created first: by age
	SortSeverity = "severity" // most severe first, then newest
	SortActivity = "activity" // latest activity (an alert or a change) first
)

// Patch is a partial update of an item's fields. Nil fields are unchanged.
type Patch struct {
	Title    *string
	Severity *alert.Severity
	Assignee *string
	Tags     *[]string
	// DueAt sets the due date; a zero time clears it.
	DueAt *time.Time
}

// Column is one state's column of the board: how many items match the
// filter, and the newest of them.
type Column struct {
	State          string
	Terminal       bool
	ReasonRequired bool
	Count          int
	Items          []Item
}
