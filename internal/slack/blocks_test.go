package slack

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/notify"
)

func samplePage() notify.Notification {
	return notify.Notification{
		ID: "n-7-1", Kind: notify.KindPage, To: notify.ContactMethod{ID: 3, Type: notify.TypeSlack, Value: "U0ALICE"},
		PageID: 7, WorkItemID: 42, Title: "Ransomware note on FS01", Severity: "high", Urgency: "high",
		Service: "File servers", Summary: "Defender found <README.txt> & 3 more", ItemURL: "https://vigil.example/items/42?x=1&y=2",
		CreatedAt: time.Date(2026, 12, 6, 1, 30, 0, 0, time.UTC),
	}
}

// blocksOf decodes m's blocks as JSON, as Slack sees them.
func blocksOf(t *testing.T, m Message) []map[string]any {
	t.Helper()
	b, err := json.Marshal(m.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func buttons(blocks []map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, b := range blocks {
		if b["type"] != "actions" {
			continue
		}
		for _, e := range b["elements"].([]any) {
			el := e.(map[string]any)
			out[el["action_id"].(string)] = el
		}
	}
	return out
}

func TestPageMessageButtonsByState(t *testing.T) {
	at := time.Date(2026, 12, 6, 1, 40, 0, 0, time.UTC)
	tests := []struct {
		state string
		want  []string
		line  string
	}{
		{StateTriggered, []string{ActionAck, ActionResolve, ActionEscalate}, "*State*\nTriggered"},
		{StateAcknowledged, []string{ActionResolve, ActionEscalate}, "*State*\nAcknowledged by alice at 2026-12-06 01:40 UTC"},
		{StateResolved, nil, "*State*\nResolved by alice at 2026-12-06 01:40 UTC"},
		{"closed", nil, "*State*\nClosed by alice at 2026-12-06 01:40 UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			m := PageMessage(samplePage(), tt.state, "alice", at)
			if m.Text == "" {
				t.Fatal("no fallback text")
			}
			blocks := blocksOf(t, m)
			got := buttons(blocks)
			if len(got) != len(tt.want) {
				t.Fatalf("buttons %v, want %v", got, tt.want)
			}
			for _, id := range tt.want {
				b, ok := got[id]
				if !ok {
					t.Fatalf("no button %s", id)
				}
				if b["type"] != "button" || b["value"] != "7" {
					t.Fatalf("button %s = %v, want a button with value 7", id, b)
				}
				txt := b["text"].(map[string]any)
				if txt["type"] != "plain_text" || txt["text"] == "" {
					t.Fatalf("button %s text = %v", id, txt)
				}
			}
			if ack, ok := got[ActionAck]; ok && ack["style"] != "primary" {
				t.Fatalf("acknowledge style = %v, want primary", ack["style"])
			}
			if !strings.Contains(string(mustJSON(t, blocks)), jsonString(tt.line)) {
				t.Fatalf("no state field %q in %s", tt.line, mustJSON(t, blocks))
			}
			if !strings.Contains(m.Text, strings.TrimPrefix(tt.line, "*State*\n")) {
				t.Fatalf("fallback %q lacks the state", m.Text)
			}
		})
	}
}

func TestPageMessageStructure(t *testing.T) {
	blocks := blocksOf(t, PageMessage(samplePage(), StateTriggered, "", time.Time{}))
	var types []string
	for _, b := range blocks {
		types = append(types, b["type"].(string))
	}
	if want := []string{"header", "section", "section", "section", "context", "actions"}; !reflect.DeepEqual(types, want) {
		t.Fatalf("block types %v, want %v", types, want)
	}
	head := blocks[0]["text"].(map[string]any)
	if head["type"] != "plain_text" || head["text"] != "Page 7: Ransomware note on FS01" {
		t.Fatalf("header = %v", head)
	}
	var fields []string
	for _, f := range blocks[1]["fields"].([]any) {
		fields = append(fields, f.(map[string]any)["text"].(string))
	}
	if want := []string{"*Severity*\nhigh", "*Urgency*\nhigh", "*Service*\nFile servers", "*State*\nTriggered"}; !reflect.DeepEqual(fields, want) {
		t.Fatalf("fields %q, want %q", fields, want)
	}
	// User text is escaped so that it cannot mention or link.
	if got := blocks[2]["text"].(map[string]any)["text"]; got != "Defender found &lt;README.txt&gt; &amp; 3 more" {
		t.Fatalf("summary = %q", got)
	}
	if got := blocks[3]["text"].(map[string]any)["text"]; got != "<https://vigil.example/items/42?x=1&amp;y=2|Open work item 42>" {
		t.Fatalf("link = %q", got)
	}
	if got := blocks[5]["block_id"]; got != "vigil_page_7" {
		t.Fatalf("actions block_id = %v", got)
	}
}

func TestPageMessageNoUnsafeLink(t *testing.T) {
	n := samplePage()
	for _, u := range []string{"javascript:alert(1)", "https://x/|evil", "https://x/>y", "https://x/" + strings.Repeat("a", 3000)} {
		n.ItemURL = u
		if s := string(mustJSON(t, blocksOf(t, PageMessage(n, StateTriggered, "", time.Time{})))); strings.Contains(s, "Open work item") {
			t.Fatalf("URL %.40q was linked", u)
		}
	}
}

func TestPageMessageLimits(t *testing.T) {
	n := samplePage()
	n.Title = strings.Repeat("é", 400)
	n.Summary = strings.Repeat("<&>", 2000)
	n.Service = strings.Repeat("s", 3000)
	m := PageMessage(n, StateAcknowledged, strings.Repeat("b", 500), time.Now())
	blocks := blocksOf(t, m)
	check := func(what string, v any, limit int) {
		t.Helper()
		s := v.(map[string]any)["text"].(string)
		if n := utf8.RuneCountInString(s); n > limit || n == 0 {
			t.Fatalf("%s has %d characters, limit %d", what, n, limit)
		}
		if i := strings.LastIndexByte(s, '&'); i >= 0 && !strings.Contains(s[i:], ";") {
			t.Fatalf("%s ends in a cut entity: %q", what, s[max(0, len(s)-12):])
		}
	}
	check("header", blocks[0]["text"], maxHeader)
	for _, f := range blocks[1]["fields"].([]any) {
		check("field", f, maxField)
	}
	check("summary", blocks[2]["text"], maxSection)
	for _, b := range buttons(blocks) {
		check("button", b["text"], maxButtonText)
	}
	if utf8.RuneCountInString(m.Text) > maxFallback || !utf8.ValidString(m.Text) {
		t.Fatal("fallback text too long or not UTF-8")
	}
}

// TestMessageShape checks Message against the shape of Slack's own
// example body (testdata/incoming_webhook_request_blocks.json).
func TestMessageShape(t *testing.T) {
	raw, err := os.ReadFile("testdata/incoming_webhook_request_blocks.json")
	if err != nil {
		t.Fatal(err)
	}
	var m Message
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var want, got map[string]any
	_ = json.Unmarshal(raw, &want)
	_ = json.Unmarshal(mustJSON(t, m), &got)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Message round trip =\n%v\nwant\n%v", got, want)
	}
}

func TestPlainMessage(t *testing.T) {
	m := plainMessage(notify.Notification{ID: "v1", Kind: notify.KindVerify, Subject: "[vigil] Your code is 123456"})
	if m.Text != "Your code is 123456" {
		t.Fatalf("verify text = %q", m.Text)
	}
	m = plainMessage(notify.Notification{ID: "t1", Kind: notify.KindTest, Subject: "Test <b>", Text: "hello & bye"})
	if m.Text != "*Test &lt;b&gt;*\nhello &amp; bye" {
		t.Fatalf("test text = %q", m.Text)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}
