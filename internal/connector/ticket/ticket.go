// Package ticket is the write-back contract shared by the helpdesk
// connectors (Freshdesk, ServiceNow): the operations a ticket mirror
// performs and their payloads. The sync engine spells a work item's
// changes once in these terms; each connector maps them to its API.
package ticket

// Operations (outbox.Message.Op).
const (
	OpCreate  = "ticket.create"
	OpUpdate  = "ticket.update"
	OpComment = "ticket.comment"
)

// Create is the payload of OpCreate.
type Create struct {
	WorkItemID  int64  `json:"workitem_id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Severity    string `json:"severity,omitempty"`
	State       string `json:"state,omitempty"`
	URL         string `json:"url,omitempty"` // the work item in vigil's UI
}

// Update is the payload of OpUpdate. Empty fields are left alone.
type Update struct {
	WorkItemID int64  `json:"workitem_id"`
	From       string `json:"from,omitempty"`
	State      string `json:"state,omitempty"`
	Severity   string `json:"severity,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Title      string `json:"title,omitempty"`
}

// Comment is the payload of OpComment.
type Comment struct {
	WorkItemID int64  `json:"workitem_id"`
	Message    string `json:"message"`
}
