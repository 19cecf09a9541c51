package smshttp

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzFindID: the gateway's answer is inbound data; reading an id from it
// never panics and yields a short string.
func FuzzFindID(f *testing.F) {
	f.Add([]byte(`{"sid":"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"queued"}`), "sid")
	f.Add([]byte(`{"messages":[{"message-id":"0A01"}]}`), "messages.0.message-id")
	f.Add([]byte(`{"messages":[]}`), "messages.-1.id")
	f.Add([]byte(`[1,2,3]`), "1")
	f.Add([]byte(`{"id":1e400}`), "id")
	f.Fuzz(func(t *testing.T, answer []byte, path string) {
		if id := findID(answer, path); len(id) > 400 {
			t.Fatalf("id of %d bytes", len(id))
		}
	})
}

// FuzzTemplates: whatever the text and recipient, the json function
// yields a valid JSON body carrying the text (as valid UTF-8), and
// urlquery a form body that decodes back to it.
func FuzzTemplates(f *testing.F) {
	f.Add("+14155552671", "vigil page 1 HIGH: \"x\" & y")
	f.Add("+1", "\xff\u2028</script>%%&=+")
	p, err := New(Config{URL: "https://x/{{digits .To}}", BodyTemplate: `{"to":{{json .To}},"text":{{json .Body}}}`, ContentType: "application/json"})
	if err != nil {
		f.Fatal(err)
	}
	q, err := New(Config{URL: "https://x/", BodyTemplate: "To={{urlquery .To}}&Body={{urlquery .Body}}"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, to, body string) {
		d := Data{To: to, Body: body}
		var b bytes.Buffer
		if err := p.bodyT.Execute(&b, d); err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		if err := json.Unmarshal(b.Bytes(), &got); err != nil {
			t.Fatalf("invalid JSON %q: %v", b.String(), err)
		}
		if utf8.ValidString(body) && got["text"] != body {
			t.Fatalf("text %q, want %q", got["text"], body)
		}
		b.Reset()
		if err := p.urlT.Execute(&b, d); err != nil || strings.ContainsAny(b.String()[len("https://x/"):], "+/?#") {
			t.Fatalf("url %q, %v", b.String(), err)
		}
		b.Reset()
		if err := q.bodyT.Execute(&b, d); err != nil {
			t.Fatal(err)
		}
		form, err := url.ParseQuery(b.String())
		if err != nil || form.Get("To") != to || form.Get("Body") != body {
			t.Fatalf("form %q does not decode back: %v", b.String(), err)
		}
	})
}
