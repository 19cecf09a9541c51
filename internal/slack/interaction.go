package slack

import (
	"encoding/json"
	"net/url"

	"github.com/vigil-soc/vigil/internal/validation"
)

// Action is one button press: who pressed which button on which message.
type Action struct {
	Type        string // the interaction type, "block_actions"
	UserID      string
	UserName    string
	TeamID      string
	ActionID    string // "vigil_ack", "vigil_resolve", "vigil_escalate"
	Value       string // the page id
	ChannelID   string
	MessageTS   string
	ResponseURL string
	TriggerID   string
	ActionTS    string
}

// InteractionBlockActions is the only interaction type the pager uses.
const InteractionBlockActions = "block_actions"

type interactionPayload struct {
	Type string `json:"type"`
	User struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Name     string `json:"name"`
		TeamID   string `json:"team_id"`
	} `json:"user"`
	Container struct {
		Type      string `json:"type"`
		MessageTS string `json:"message_ts"`
		ChannelID string `json:"channel_id"`
	} `json:"container"`
	TriggerID string `json:"trigger_id"`
	Team      struct {
		ID string `json:"id"`
	} `json:"team"`
	Channel struct {
		ID string `json:"id"`
	} `json:"channel"`
	Message struct {
		TS string `json:"ts"`
	} `json:"message"`
	ResponseURL string `json:"response_url"`
	Actions     []struct {
		ActionID string `json:"action_id"`
		BlockID  string `json:"block_id"`
		Value    string `json:"value"`
		Type     string `json:"type"`
		ActionTS string `json:"action_ts"`
	} `json:"actions"`
}

// ParseInteraction reads an interactivity request body, the form field
// payload=<JSON>, of a block_actions interaction. Verify the request
// first (VerifyRequest): the payload is only as trustworthy as its
// signature. Errors are *validation.FieldError naming the field.
func ParseInteraction(body []byte) (Action, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return Action{}, validation.NewFieldError("payload", "the body is not form-encoded")
	}
	raw := form.Get("payload")
	if raw == "" {
		return Action{}, validation.NewFieldError("payload", "is required")
	}
	var p interactionPayload
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return Action{}, validation.NewFieldError("payload", "is not a JSON interaction: %v", err)
	}
	switch {
	case p.Type == "":
		return Action{}, validation.NewFieldError("payload.type", "is required")
	case p.Type != InteractionBlockActions:
		return Action{}, validation.NewFieldError("payload.type", "%q is not %q", p.Type, InteractionBlockActions)
	case p.User.ID == "":
		return Action{}, validation.NewFieldError("payload.user.id", "is required")
	case len(p.Actions) == 0:
		return Action{}, validation.NewFieldError("payload.actions", "holds no action")
	case p.Actions[0].ActionID == "":
		return Action{}, validation.NewFieldError("payload.actions[0].action_id", "is required")
	}
	a := p.Actions[0]
	out := Action{
		Type: p.Type, UserID: p.User.ID, UserName: first(p.User.Username, p.User.Name),
		TeamID: first(p.User.TeamID, p.Team.ID), ActionID: a.ActionID, Value: a.Value,
		ChannelID: first(p.Container.ChannelID, p.Channel.ID), MessageTS: first(p.Container.MessageTS, p.Message.TS),
		ResponseURL: p.ResponseURL, TriggerID: p.TriggerID, ActionTS: a.ActionTS,
	}
	return out, nil
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
