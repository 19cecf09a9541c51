package slackemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/slack"
	"github.com/vigil-soc/vigil/internal/slack/slackemu"
)

const (
	token  = "xoxb-emu"
	secret = "shh-signing"
)

type captured struct {
	header http.Header
	body   []byte
}

// recorder is an interactivity endpoint that keeps what it received.
type recorder struct {
	mu   sync.Mutex
	reqs []captured
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, captured{r.Header.Clone(), b})
	rc.mu.Unlock()
	_, _ = w.Write([]byte("thanks"))
}

func (rc *recorder) get(i int) captured {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.reqs[i]
}

func setup(t *testing.T) (*slackemu.Server, string, *recorder) {
	t.Helper()
	emu := slackemu.New(token, secret)
	base, err := emu.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	rc := &recorder{}
	h := httptest.NewServer(rc)
	t.Cleanup(h.Close)
	emu.SetInteractivityURL(h.URL + "/slack/interactivity")
	return emu, base, rc
}

func post(t *testing.T, base, method, contentType, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/"+method, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

var tsRE = regexp.MustCompile(`^\d{10}\.\d{6}$`)

func TestPostMessageAnswer(t *testing.T) {
	_, base, _ := setup(t)
	// Slack's own example body, with a channel, is accepted.
	raw, err := os.ReadFile("../testdata/incoming_webhook_request_blocks.json")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	body["channel"] = "C0GENERAL"
	js, _ := json.Marshal(body)
	out := post(t, base, "chat.postMessage", "application/json; charset=utf-8", string(js))
	if out["ok"] != true || out["channel"] != "C0GENERAL" || !tsRE.MatchString(out["ts"].(string)) {
		t.Fatalf("answer = %v", out)
	}
	msg := out["message"].(map[string]any)
	if msg["text"] != "fallback" || msg["ts"] != out["ts"] || msg["type"] != "message" || len(msg["blocks"].([]any)) != 1 {
		t.Fatalf("message = %v", msg)
	}
	// The Web API takes form bodies too, blocks as a JSON string.
	form := url.Values{"channel": {"C0GENERAL"}, "text": {"hi"}, "blocks": {`[{"type":"divider"}]`}}.Encode()
	out2 := post(t, base, "chat.postMessage", "application/x-www-form-urlencoded", form)
	if out2["ok"] != true || out2["ts"] == out["ts"] {
		t.Fatalf("form answer = %v (ts must be unique)", out2)
	}
	up := post(t, base, "chat.update", "application/json", `{"channel":"C0GENERAL","ts":"`+out["ts"].(string)+`","text":"new"}`)
	if up["ok"] != true || up["text"] != "new" || up["ts"] != out["ts"] || up["channel"] != "C0GENERAL" {
		t.Fatalf("update answer = %v", up)
	}
	// Slack warns when a JSON body does not name its charset.
	if up["warning"] != "missing_charset" || out["warning"] != nil {
		t.Fatalf("warnings: update %v, post %v", up["warning"], out["warning"])
	}
	for _, tc := range []struct{ body, code string }{
		{`{"channel":"C0OTHER","ts":"1.000001","text":"x"}`, "channel_not_found"},
		{`{"channel":"C0GENERAL","ts":"1.000001","text":"x"}`, "message_not_found"},
		{`{"channel":"C0GENERAL","text":"x"}`, "message_not_found"},
		{`{"channel":"C0GENERAL","ts":"` + out["ts"].(string) + `"}`, "no_text"},
		{`{`, "invalid_json"},
	} {
		if got := post(t, base, "chat.update", "application/json", tc.body); got["error"] != tc.code {
			t.Fatalf("update %s = %v, want %s", tc.body, got, tc.code)
		}
	}
}

// keys lists the JSON object paths of v, so two payloads can be
// compared field by field.
func keys(prefix string, v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			out[prefix+"."+k] = true
			keys(prefix+"."+k, c, out)
		}
	case []any:
		for _, c := range x {
			keys(prefix+"[]", c, out)
		}
	}
}

func TestClickMatchesFixture(t *testing.T) {
	emu, base, rc := setup(t)
	c := slack.New(slack.Config{APIURL: base + "/api", BotToken: token})
	n := pageNotification()
	p, err := c.PostMessage(context.Background(), "C0ONCALL", slack.PageMessage(n, slack.StateTriggered, "", time.Time{}))
	if err != nil {
		t.Fatal(err)
	}
	status, body, err := emu.Click(context.Background(), p.Channel, p.TS, slack.ActionEscalate, "U0BOB")
	if err != nil || status != 200 || body != "thanks" {
		t.Fatalf("click = %d %q %v", status, body, err)
	}
	req := rc.get(0)
	if req.header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Fatalf("content type %q", req.header.Get("Content-Type"))
	}
	form, err := url.ParseQuery(string(req.body))
	if err != nil || len(form) != 1 {
		t.Fatalf("body is not a single payload field: %q", req.body)
	}
	var got, want any
	if err := json.Unmarshal([]byte(form.Get("payload")), &got); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/block_actions_payload.json")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(raw, &want)
	gk, wk := map[string]bool{}, map[string]bool{}
	keys("", got, gk)
	keys("", want, wk)
	var missing []string
	for k := range wk {
		if !gk[k] && !optional[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("the click payload lacks fixture fields %v", missing)
	}
	g := got.(map[string]any)
	act := g["actions"].([]any)[0].(map[string]any)
	if g["type"] != "block_actions" || act["action_id"] != slack.ActionEscalate || act["value"] != "7" ||
		act["type"] != "button" || act["block_id"] != "vigil_page_7" || !tsRE.MatchString(act["action_ts"].(string)) {
		t.Fatalf("payload = %v", g)
	}
	if txt := act["text"].(map[string]any); txt["type"] != "plain_text" || txt["text"] != "Escalate" {
		t.Fatalf("action text = %v", txt)
	}
	cont := g["container"].(map[string]any)
	if cont["type"] != "message" || cont["message_ts"] != p.TS || cont["channel_id"] != p.Channel {
		t.Fatalf("container = %v", cont)
	}

	// The package under test accepts what the emulator sends.
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(req.body))
	r.Header = req.header
	b, err := slack.VerifyRequest(r, secret, time.Now(), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	a, err := slack.ParseInteraction(b)
	if err != nil || a.UserID != "U0BOB" || a.UserName != "u0bob" || a.TeamID != slackemu.TeamID || a.MessageTS != p.TS {
		t.Fatalf("parsed %+v %v", a, err)
	}

	// The response URL is served and recorded.
	resp, err := http.Post(a.ResponseURL, "application/json", strings.NewReader(`{"text":"page 7 is closed","response_type":"ephemeral"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if rs := emu.Responses(); len(rs) != 1 || !strings.Contains(string(rs[0].Body), "page 7 is closed") {
		t.Fatalf("responses = %v", rs)
	}

	// ReplayLast is the same request, byte for byte.
	if status, _, err := emu.ReplayLast(context.Background()); err != nil || status != 200 {
		t.Fatalf("replay = %d %v", status, err)
	}
	again := rc.get(1)
	for _, h := range []string{"X-Slack-Request-Timestamp", "X-Slack-Signature", "Content-Type"} {
		if again.header.Get(h) != req.header.Get(h) {
			t.Fatalf("replayed %s = %q, want %q", h, again.header.Get(h), req.header.Get(h))
		}
	}
	if !bytes.Equal(again.body, req.body) {
		t.Fatal("replayed body differs")
	}
}

// optional are fixture fields the emulator leaves out: the Enterprise
// Grid organisation, which an emulated workspace does not belong to.
var optional = map[string]bool{".team.enterprise_id": true, ".team.enterprise_name": true}

func TestClickErrors(t *testing.T) {
	emu, base, _ := setup(t)
	ctx := context.Background()
	c := slack.New(slack.Config{APIURL: base + "/api", BotToken: token})
	p, err := c.PostMessage(ctx, "C0ONCALL", slack.Message{Text: "no buttons"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := emu.Click(ctx, p.Channel, p.TS, slack.ActionAck, "U1"); err == nil {
		t.Fatal("clicked a button the message does not have")
	}
	if _, _, err := emu.Click(ctx, p.Channel, "9.000000", slack.ActionAck, "U1"); err == nil {
		t.Fatal("clicked on a message that does not exist")
	}
	emu2 := slackemu.New(token, secret)
	if _, _, err := emu2.ReplayLast(ctx); err == nil {
		t.Fatal("replayed nothing")
	}
}

func TestWaitMessage(t *testing.T) {
	emu, base, _ := setup(t)
	c := slack.New(slack.Config{APIURL: base + "/api", BotToken: token})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan slackemu.Posted, 1)
	go func() {
		p, err := emu.WaitMessage(ctx, func(p slackemu.Posted) bool { return p.Text == "second" })
		if err == nil {
			done <- p
		}
		close(done)
	}()
	for _, s := range []string{"first", "second"} {
		if _, err := c.PostMessage(ctx, "C0ONCALL", slack.Message{Text: s}); err != nil {
			t.Fatal(err)
		}
	}
	if p, ok := <-done; !ok || p.Text != "second" || p.Channel != "C0ONCALL" || p.At.IsZero() {
		t.Fatalf("WaitMessage = %+v", p)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := emu.WaitMessage(short, func(slackemu.Posted) bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func pageNotification() notify.Notification {
	return notify.Notification{
		ID: "n-7-1", Kind: notify.KindPage, To: notify.ContactMethod{Type: notify.TypeSlack, Value: "C0ONCALL"},
		PageID: 7, Title: "Ransomware note on FS01", Severity: "high", Urgency: "high", CreatedAt: time.Now(),
	}
}
