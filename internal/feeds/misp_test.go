package feeds

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/feeds/feedsemu"
)

const mispKey = "misp-secret-key-abcdefghij"

func startMISP(t *testing.T) (*feedsemu.MISPServer, *MISP) {
	t.Helper()
	emu, err := feedsemu.NewMISPServer(mispKey)
	if err != nil {
		t.Fatal(err)
	}
	base, err := emu.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	feed, err := NewMISP(MISPConfig{BaseURL: base, APIKey: mispKey, Now: fixedNow, PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	return emu, feed
}

func mispAttr(ts time.Time, typ, value string, toIDS bool, tags ...string) feedsemu.MISPAttribute {
	a := feedsemu.MISPAttribute{EventID: "9747", ObjectID: "0", Category: "Network activity", Type: typ, Value: value, ToIDS: toIDS,
		UUID: "5a3c2fda-78f4-44b7-8366-46da02de0b81", Timestamp: strconv.FormatInt(ts.Unix(), 10), Distribution: "5", SharingGroupID: "0",
		Event: &feedsemu.MISPEventRef{ID: "9747", UUID: "5a3c2d0e-ba7c-4f1f-9c9b-4e9a950d210f", Info: "test"}}
	for _, tg := range tags {
		a.Tag = append(a.Tag, feedsemu.MISPTag{ID: "1", Name: tg})
	}
	return a
}

func TestMISPPasses(t *testing.T) {
	emu, feed := startMISP(t)
	attrs := []feedsemu.MISPAttribute{
		mispAttr(t0.Add(1*time.Second), "ip-dst", "198.51.100.1", true, "tlp:white", `osint:certainty="93"`),
		mispAttr(t0.Add(2*time.Second), "ip-src|port", "198.51.100.2|8080", true),
		mispAttr(t0.Add(3*time.Second), "domain", "evil.example", true),
		mispAttr(t0.Add(4*time.Second), "hostname", "c2.evil.example", true),
		mispAttr(t0.Add(5*time.Second), "url", "http://evil.example/x", true),
		mispAttr(t0.Add(6*time.Second), "filename|sha256", "a.exe|ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c", true),
		mispAttr(t0.Add(7*time.Second), "email-src", "phish@evil.example", true),
		mispAttr(t0.Add(8*time.Second), "mutex", "Global\\x", true),     // unsupported type
		mispAttr(t0.Add(9*time.Second), "ip-dst", "not-an-ip", true),    // bad value
		mispAttr(t0.Add(9*time.Second), "ip-dst", "192.0.2.200", false), // not for IDS: filtered by the server
	}
	for _, a := range attrs {
		if err := emu.AddAttribute(a); err != nil {
			t.Fatal(err)
		}
	}
	emu.AddRaw(5000, t0.Add(10*time.Second).Unix(), true, json.RawMessage(`{"id": "5000", "type": ["ip-dst"], "timestamp": "1"}`))

	res := mustPass(t, feed, "")
	if res.Pages != 4 { // 10 served attributes, 3 a page: 3, 3, 3, 1
		t.Errorf("pages = %d, want 4", res.Pages)
	}
	want := []string{"ip:198.51.100.1", "ip:198.51.100.2", "domain:evil.example", "domain:c2.evil.example", "url:http://evil.example/x",
		"sha256:ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c", "email:phish@evil.example"}
	if got := values(res.Indicators); len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("[%d] = %s, want %s", i, got[i], want[i])
			}
		}
	}
	if res.Skipped != 3 {
		t.Errorf("skipped = %d, want 3", res.Skipped)
	}
	first := res.Indicators[0]
	if first.Confidence != 93 || !contains(first.Tags, "tlp:white") || first.Ref != "5a3c2d0e-ba7c-4f1f-9c9b-4e9a950d210f" || !first.FirstSeen.Equal(t0.Add(time.Second)) {
		t.Errorf("first = %+v", first)
	}
	if want := strconv.FormatInt(t0.Add(9*time.Second).Unix(), 10); res.Cursor != want {
		t.Errorf("cursor = %q, want %q (the malformed entry has no usable timestamp)", res.Cursor, want)
	}

	again := mustPass(t, feed, res.Cursor)
	if len(again.Indicators) != 0 || again.Cursor != res.Cursor {
		t.Errorf("second pass: %v cursor %q", values(again.Indicators), again.Cursor)
	}

	if err := emu.AddAttribute(mispAttr(t0.Add(20*time.Second), "md5", "d41d8cd98f00b204e9800998ecf8427e", true)); err != nil {
		t.Fatal(err)
	}
	emu.Corrupt(1)
	bad, err := feed.Pass(context.Background(), res.Cursor)
	if err == nil || bad.Cursor != res.Cursor {
		t.Fatalf("corrupt page: err %v cursor %q", err, bad.Cursor)
	}
	next := mustPass(t, feed, res.Cursor)
	if got := values(next.Indicators); len(got) != 1 || got[0] != "md5:d41d8cd98f00b204e9800998ecf8427e" {
		t.Errorf("third pass = %v", got)
	}
}

// TestMISPFixtureEvent serves PyMISP's existing_event.json: its seven
// to_ids domains come through, the link and text attributes do not.
func TestMISPFixtureEvent(t *testing.T) {
	emu, feed := startMISP(t)
	raw, err := feedsemu.Fixtures.ReadFile("fixtures/misp/event_full_existing.json")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := emu.AddEvent(raw); err != nil || n != 9 {
		t.Fatalf("AddEvent = %d, %v", n, err)
	}
	res := mustPass(t, feed, "")
	if len(res.Indicators) != 7 || res.Skipped != 0 {
		t.Fatalf("got %v skipped %d", values(res.Indicators), res.Skipped)
	}
	if !contains(values(res.Indicators), "domain:movieultimate.com") {
		t.Errorf("missing movieultimate.com: %v", values(res.Indicators))
	}
}

func TestMISPErrors(t *testing.T) {
	emu, feed := startMISP(t)
	emu.Fail(1, http.StatusTooManyRequests)
	_, err := feed.Pass(context.Background(), "")
	checkRetryable(t, err, 7*time.Second)
	checkNoSecret(t, err, mispKey)

	wrong, _ := NewMISP(MISPConfig{BaseURL: emu.URL(), APIKey: "wrong-" + mispKey, Now: fixedNow})
	_, err = wrong.Pass(context.Background(), "")
	if err == nil {
		t.Fatal("wrong key accepted")
	}
	checkNoSecret(t, err, "wrong-"+mispKey)
	if _, err := feed.Pass(context.Background(), "-3"); err == nil {
		t.Error("bad cursor accepted")
	}
}

func TestParseMISPPageShapes(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr bool
		want    int
	}{
		{"empty list response", `{"response": []}`, false, 0},
		{"empty attributes", `{"response": {"Attribute": []}}`, false, 0},
		{"not json", `<html>`, true, 0},
		{"no response", `{}`, true, 0},
		{"attribute not a list", `{"response": {"Attribute": {}}}`, true, 0},
		{"numeric timestamp", `{"response": {"Attribute": [{"type": "domain", "value": "x.example", "to_ids": true, "timestamp": 5}]}}`, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			_, err := ParseMISPPage([]byte(tt.body), func(Indicator) { n++ })
			if (err != nil) != tt.wantErr || n != tt.want {
				t.Errorf("err %v, %d indicators", err, n)
			}
		})
	}
}

// TestMISPRequest checks the restSearch body against the openapi contract
// (AttributeRestSearchFilter: timestamp is a string of digits, page from 1).
func TestMISPRequest(t *testing.T) {
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		bodies = append(bodies, m)
		if r.Header.Get("Authorization") != mispKey || r.Method != http.MethodPost || r.URL.Path != "/attributes/restSearch" {
			t.Errorf("request %s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		fmt.Fprint(w, `{"response": {"Attribute": []}}`)
	}))
	defer srv.Close()
	feed, _ := NewMISP(MISPConfig{BaseURL: srv.URL, APIKey: mispKey, Now: fixedNow, PageSize: 10})
	res := mustPass(t, feed, "1617875568")
	if len(bodies) != 1 || res.Cursor != "1617875568" {
		t.Fatalf("bodies %v cursor %q", bodies, res.Cursor)
	}
	want := map[string]any{"returnFormat": "json", "to_ids": true, "timestamp": "1617875569", "page": 1.0, "limit": 10.0}
	if fmt.Sprint(bodies[0]) != fmt.Sprint(want) {
		t.Errorf("body = %v, want %v", bodies[0], want)
	}
}

func TestPassCancelled(t *testing.T) {
	_, feed := startMISP(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := feed.Pass(ctx, "5"); err == nil || res.Cursor != "5" {
		t.Errorf("err %v cursor %q", err, res.Cursor)
	}
}
