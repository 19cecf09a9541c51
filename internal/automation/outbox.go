package automation

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// Target is the outbox target "automation": the work a rule's hit leaves
// for after commit (write-backs of a close at creation, playbooks,
// pages), retried like any external write and never doubled.
const Target = "automation"

// OpWriteBack plans the write-backs of a move a creation rule made, once
// the item and its links are committed.
const OpWriteBack = "plan-writeback"

// WriteBack is the payload of an OpWriteBack message.
type WriteBack struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
	Rule   string `json:"rule"`
}

// WriteBackMessage is the message for a creation rule's move of item id.
func WriteBackMessage(itemID int64, w WriteBack) outbox.Message {
	b, _ := json.Marshal(w)
	return outbox.Message{WorkItemID: itemID, Target: Target, Op: OpWriteBack, Resource: "workitem/" + strconv.FormatInt(itemID, 10),
		Payload: b, IdemKey: fmt.Sprintf("rule-writeback/item/%d/%s", itemID, w.To)}
}

// DeferredMessages turns a hit's extension actions (playbooks, pages)
// into outbox messages, one per action.
func DeferredMessages(itemID int64, ds []DeferredAction) []outbox.Message {
	var msgs []outbox.Message
	for i, d := range ds {
		b, _ := json.Marshal(d)
		msgs = append(msgs, outbox.Message{WorkItemID: itemID, Target: Target, Op: d.Action.Type,
			Resource: "workitem/" + strconv.FormatInt(itemID, 10), Payload: b,
			IdemKey: fmt.Sprintf("rule/%d/%s/item/%d/%d", d.RuleID, d.Trigger, itemID, i)})
	}
	return msgs
}

// Runner is an Extension that runs its deferred actions (the enrichment
// module's playbooks, on-call's pages).
type Runner interface {
	Extension
	Run(ctx context.Context, itemID int64, d DeferredAction) error
}
