package slackemu

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

var channelID = regexp.MustCompile(`^[CGDUW][A-Z0-9]{2,30}$`)

// chatArgs are the arguments of chat.postMessage and chat.update.
type chatArgs struct {
	Channel string          `json:"channel"`
	TS      string          `json:"ts"`
	Text    string          `json:"text"`
	Blocks  json.RawMessage `json:"blocks"`
}

func readAll(r *http.Request) []byte {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return b
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, method string) {
	body := readAll(r)
	call := Call{Method: method, Header: r.Header.Clone(), Body: body}
	status, answer, hdr := s.api(r, method, body)
	call.Status = status
	if e, ok := answer["error"].(string); ok {
		call.Error = e
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	if answer == nil {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "emulated HTTP %d\n", status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(answer)
}

func fail(code string) map[string]any { return map[string]any{"ok": false, "error": code} }

// api answers one call: status, JSON answer (nil for a plain body) and
// extra headers.
func (s *Server) api(r *http.Request, method string, body []byte) (int, map[string]any, map[string]string) {
	s.mu.Lock()
	var f *failure
	if len(s.fails) > 0 {
		f = &s.fails[0]
		s.fails = s.fails[1:]
	}
	s.mu.Unlock()
	if f != nil {
		switch {
		case f.code != "":
			return http.StatusOK, fail(f.code), nil
		case f.status == http.StatusTooManyRequests:
			return f.status, fail("ratelimited"), map[string]string{"Retry-After": "1"}
		default:
			return f.status, nil, nil
		}
	}
	if r.Method != http.MethodPost {
		return http.StatusOK, fail("invalid_request"), nil
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token || s.token == "" {
		return http.StatusOK, fail("invalid_auth"), nil
	}
	args, code := parseArgs(r, body)
	if code != "" {
		return http.StatusOK, fail(code), nil
	}
	var blocks []any
	if len(args.Blocks) > 0 && string(args.Blocks) != "null" {
		var err error
		if blocks, err = checkBlocks(args.Blocks); err != nil {
			return http.StatusOK, map[string]any{"ok": false, "error": "invalid_blocks", "errors": []string{err.Error()}}, nil
		} else if blocks == nil {
			return http.StatusOK, fail("invalid_blocks_format"), nil
		}
	}
	if utf8.RuneCountInString(args.Text) > 40000 {
		return http.StatusOK, fail("msg_too_long"), nil
	}
	var status int
	var answer map[string]any
	switch method {
	case "chat.postMessage":
		status, answer = s.post(args, blocks)
	case "chat.update":
		status, answer = s.update(args, blocks)
	default:
		return http.StatusOK, fail("unknown_method"), nil
	}
	// Slack warns, without failing, when a JSON body does not say its
	// charset.
	if _, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); answer["ok"] == true &&
		strings.Contains(r.Header.Get("Content-Type"), "json") && params["charset"] == "" {
		answer["warning"] = "missing_charset"
		answer["response_metadata"] = map[string]any{"warnings": []string{"missing_charset"}}
	}
	return status, answer, nil
}

// parseArgs reads a JSON or form body, as the Web API accepts both.
func parseArgs(r *http.Request, body []byte) (chatArgs, string) {
	var a chatArgs
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		if err := json.Unmarshal(body, &a); err != nil {
			return a, "invalid_json"
		}
	case "application/x-www-form-urlencoded", "":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return a, "invalid_form_data"
		}
		a.Channel, a.TS, a.Text = form.Get("channel"), form.Get("ts"), form.Get("text")
		if b := form.Get("blocks"); b != "" {
			a.Blocks = json.RawMessage(b)
		}
	default:
		return a, "invalid_post_type"
	}
	return a, ""
}

func (s *Server) post(a chatArgs, blocks []any) (int, map[string]any) {
	switch {
	case a.Channel == "":
		return http.StatusOK, fail("invalid_arguments")
	case !channelID.MatchString(a.Channel):
		return http.StatusOK, fail("channel_not_found")
	case a.Text == "" && len(blocks) == 0:
		return http.StatusOK, fail("no_text")
	}
	ch := a.Channel
	if ch[0] == 'U' || ch[0] == 'W' {
		ch = "D" + ch // the app's DM with the member
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	micro := max(now.UnixMicro(), s.lastMicro+1)
	s.lastMicro = micro
	ts := fmt.Sprintf("%d.%06d", micro/1e6, micro%1e6)
	m := &Posted{Channel: ch, TS: ts, Text: a.Text, Blocks: blocks, At: now}
	s.msgs = append(s.msgs, m)
	s.byKey[ch+"/"+ts] = m
	s.notifyLocked()
	return http.StatusOK, map[string]any{"ok": true, "channel": ch, "ts": ts, "message": message(m)}
}

func (s *Server) update(a chatArgs, blocks []any) (int, map[string]any) {
	switch {
	case a.Channel == "":
		return http.StatusOK, fail("invalid_arguments")
	case a.TS == "":
		return http.StatusOK, fail("message_not_found")
	case a.Text == "" && len(blocks) == 0:
		return http.StatusOK, fail("no_text")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.byKey[a.Channel+"/"+a.TS]
	if !ok {
		for _, x := range s.msgs {
			if x.Channel == a.Channel {
				return http.StatusOK, fail("message_not_found")
			}
		}
		return http.StatusOK, fail("channel_not_found")
	}
	m.Text = a.Text
	if blocks != nil {
		m.Blocks = blocks
	}
	m.Updates++
	s.notifyLocked()
	return http.StatusOK, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text, "message": message(m)}
}

// message is the message object Slack returns.
func message(m *Posted) map[string]any {
	out := map[string]any{
		"type": "message", "subtype": "bot_message", "text": m.Text, "ts": m.TS,
		"bot_id": "B0EMULATOR", "app_id": "A0EMULATOR", "team": TeamID,
	}
	if m.Blocks != nil {
		out["blocks"] = deepCopy(m.Blocks)
	}
	return out
}

// checkBlocks decodes blocks and checks the limits the pager relies on.
// It returns nil and no error when blocks is not an array of objects.
func checkBlocks(raw json.RawMessage) ([]any, error) {
	var blocks []any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, nil
	}
	if len(blocks) > 50 {
		return nil, fmt.Errorf("more than 50 blocks")
	}
	actionIDs := map[string]bool{}
	for i, b := range blocks {
		obj, ok := b.(map[string]any)
		if !ok {
			return nil, nil
		}
		typ, _ := obj["type"].(string)
		if typ == "" {
			return nil, fmt.Errorf("[json-pointer:/blocks/%d/type] missing required field", i)
		}
		if err := checkBlock(i, typ, obj, actionIDs); err != nil {
			return nil, err
		}
	}
	return blocks, nil
}

func checkBlock(i int, typ string, obj map[string]any, actionIDs map[string]bool) error {
	at := fmt.Sprintf("[json-pointer:/blocks/%d", i)
	switch typ {
	case "header":
		if err := checkText(obj["text"], 150, true, at+"/text]"); err != nil {
			return err
		}
	case "section":
		if obj["text"] == nil && obj["fields"] == nil {
			return fmt.Errorf("%s] section needs text or fields", at)
		}
		if obj["text"] != nil {
			if err := checkText(obj["text"], 3000, false, at+"/text]"); err != nil {
				return err
			}
		}
		if fields, ok := obj["fields"].([]any); ok {
			if len(fields) > 10 {
				return fmt.Errorf("%s/fields] more than 10 fields", at)
			}
			for j, f := range fields {
				if err := checkText(f, 2000, false, fmt.Sprintf("%s/fields/%d]", at, j)); err != nil {
					return err
				}
			}
		}
	case "actions":
		els, ok := obj["elements"].([]any)
		if !ok || len(els) == 0 || len(els) > 25 {
			return fmt.Errorf("%s/elements] must hold 1 to 25 elements", at)
		}
		for j, e := range els {
			el, _ := e.(map[string]any)
			if el == nil {
				return fmt.Errorf("%s/elements/%d] not an object", at, j)
			}
			if el["type"] == "button" {
				if err := checkText(el["text"], 75, true, fmt.Sprintf("%s/elements/%d/text]", at, j)); err != nil {
					return err
				}
			}
			if id, _ := el["action_id"].(string); id != "" {
				if actionIDs[id] || len(id) > 255 {
					return fmt.Errorf("%s/elements/%d/action_id] duplicate or too long", at, j)
				}
				actionIDs[id] = true
			}
			if v, _ := el["value"].(string); len(v) > 2000 {
				return fmt.Errorf("%s/elements/%d/value] longer than 2000", at, j)
			}
		}
	case "context":
		els, ok := obj["elements"].([]any)
		if !ok || len(els) == 0 || len(els) > 10 {
			return fmt.Errorf("%s/elements] must hold 1 to 10 elements", at)
		}
	}
	return nil
}

// checkText checks a text object: its type and length.
func checkText(v any, limit int, plainOnly bool, at string) error {
	t, _ := v.(map[string]any)
	if t == nil {
		return fmt.Errorf("%s missing text object", at)
	}
	typ, _ := t["type"].(string)
	if typ != "plain_text" && (plainOnly || typ != "mrkdwn") {
		return fmt.Errorf("%s text type %q not allowed", at, typ)
	}
	s, _ := t["text"].(string)
	if s == "" || utf8.RuneCountInString(s) > limit {
		return fmt.Errorf("%s text must be 1 to %d characters", at, limit)
	}
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("%s text is blank", at)
	}
	return nil
}
