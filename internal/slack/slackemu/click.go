package slackemu

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Click presses the button actionID of the message at channel and ts as
// member userID: it POSTs a signed block_actions interaction to the
// interactivity URL and returns the answer's status and body. The button
// must be in the message's current blocks: a button an update removed
// cannot be pressed.
func (s *Server) Click(ctx context.Context, channel, ts, actionID, userID string) (int, string, error) {
	s.mu.Lock()
	target := s.interURL
	m, ok := s.byKey[channel+"/"+ts]
	var msg Posted
	if ok {
		msg = copyPosted(m)
	}
	name := s.users[userID]
	base := s.base
	s.mu.Unlock()
	if target == "" {
		return 0, "", errors.New("slackemu: no interactivity URL set")
	}
	if !ok {
		return 0, "", fmt.Errorf("slackemu: no message %s/%s", channel, ts)
	}
	blockID, button, found := findButton(msg.Blocks, actionID)
	if !found {
		return 0, "", fmt.Errorf("%w: %q on %s/%s", errNoButton, actionID, channel, ts)
	}
	if name == "" {
		name = strings.ToLower(userID)
	}
	now := s.now()
	actionTS := fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
	payload := map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": userID, "username": name, "name": name, "team_id": TeamID},
		"api_app_id":   "A0EMULATOR",
		"token":        "emulator-verification-token",
		"container":    map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
		"trigger_id":   fmt.Sprintf("%d.%d.%s", now.Unix(), now.UnixNano()%1e9, randomHex(16)),
		"team":         map[string]any{"id": TeamID, "domain": "vigil-emulator"},
		"channel":      map[string]any{"id": channel, "name": channelName(channel)},
		"response_url": fmt.Sprintf("%s/actions/%s/%d/%s", base, TeamID, now.UnixNano(), randomHex(12)),
		"actions": []any{map[string]any{
			"action_id": actionID, "block_id": blockID, "text": button["text"], "value": button["value"],
			"type": "button", "action_ts": actionTS,
		}},
	}
	js, err := json.Marshal(payload)
	if err != nil {
		return 0, "", fmt.Errorf("slackemu: encode interaction: %w", err)
	}
	body := []byte("payload=" + url.QueryEscape(string(js)))
	stamp := strconv.FormatInt(now.Unix(), 10)
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	h.Set("X-Slack-Request-Timestamp", stamp)
	h.Set("X-Slack-Signature", sign(s.secret, stamp, body))
	sn := &sent{url: target, header: h, body: body}
	s.mu.Lock()
	s.last = sn
	s.mu.Unlock()
	return s.send(ctx, sn)
}

// ReplayLast sends the last interaction again, byte for byte, with the
// same headers: what an attacker who captured it would do.
func (s *Server) ReplayLast(ctx context.Context) (int, string, error) {
	s.mu.Lock()
	sn := s.last
	s.mu.Unlock()
	if sn == nil {
		return 0, "", errors.New("slackemu: no interaction sent yet")
	}
	return s.send(ctx, sn)
}

func (s *Server) send(ctx context.Context, sn *sent) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sn.url, bytes.NewReader(sn.body))
	if err != nil {
		return 0, "", fmt.Errorf("slackemu: interaction request: %w", err)
	}
	req.Header = sn.header.Clone()
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("slackemu: send interaction: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("slackemu: read interaction answer: %w", err)
	}
	return resp.StatusCode, string(b), nil
}

// findButton finds a button by action id in an actions block.
func findButton(blocks []any, actionID string) (blockID string, button map[string]any, ok bool) {
	for _, b := range blocks {
		blk, _ := b.(map[string]any)
		if blk == nil || blk["type"] != "actions" {
			continue
		}
		els, _ := blk["elements"].([]any)
		for _, e := range els {
			el, _ := e.(map[string]any)
			if el != nil && el["type"] == "button" && el["action_id"] == actionID {
				id, _ := blk["block_id"].(string)
				if id == "" {
					id = "emu" + randomHex(3) // Slack makes one up when the app did not
				}
				return id, el, true
			}
		}
	}
	return "", nil, false
}

func channelName(id string) string {
	if strings.HasPrefix(id, "D") {
		return "directmessage"
	}
	return strings.ToLower(id)
}

// sign is Slack's v0 request signature.
func sign(secret, stamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + stamp + ":"))
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}
