package feeds

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/feeds/feedsemu"
)

const (
	taxiiUser     = "analyst"
	taxiiPassword = "taxii-secret-password-42"
	highValue     = "91a7b528-80eb-42ed-a74d-c6fbd5a26116" // medallion's High Value Indicator Collection
)

func startTAXII(t *testing.T, pageSize int) (*feedsemu.TAXIIServer, *TAXII) {
	t.Helper()
	emu, err := feedsemu.NewTAXIIServer(taxiiUser, taxiiPassword)
	if err != nil {
		t.Fatal(err)
	}
	base, err := emu.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	feed, err := NewTAXII(TAXIIConfig{APIRoot: base + "/trustgroup1/", Collection: highValue, Username: taxiiUser, Password: taxiiPassword, Now: fixedNow, PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	return emu, feed
}

func stixIndicator(n int, pattern string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"type": "indicator", "spec_version": "2.1", "id": "indicator--00000000-0000-4000-8000-%012d",
		"created": "2026-03-01T12:00:00.000Z", "modified": "2026-03-01T12:00:00.000Z", "pattern": %q, "pattern_type": "stix",
		"valid_from": "2026-03-01T12:00:00Z", "confidence": 80, "labels": ["c2"]}`, n, pattern))
}

func TestTAXIIPasses(t *testing.T) {
	emu, feed := startTAXII(t, 3)
	// The fixture collection: 8 objects, of which 4 indicator versions.
	res := mustPass(t, feed, "")
	if res.Pages != 3 {
		t.Errorf("pages = %d, want 3 (8 objects, 3 a page)", res.Pages)
	}
	want := []string{"sha256:ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c", "url:http://z4z10farb.cn/4712", "url:http://x4z9arb.cn/4712", "url:http://x4z9arb.cn/4712"}
	got := values(res.Indicators)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if res.Skipped != 0 {
		t.Errorf("skipped = %d", res.Skipped)
	}
	if res.Cursor != "2017-12-31T13:49:53.935Z" {
		t.Errorf("cursor = %q (the last date_added of the manifest)", res.Cursor)
	}

	again := mustPass(t, feed, res.Cursor)
	if len(again.Indicators) != 0 || again.Cursor != res.Cursor {
		t.Errorf("second pass: %v cursor %q", values(again.Indicators), again.Cursor)
	}

	added := t0.Add(90 * time.Second)
	if err := emu.AddObjects("trustgroup1", highValue, added,
		stixIndicator(1, "[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'evil.example']"),
		stixIndicator(2, "[ipv4-addr:value = '198.51.100.1' AND ipv4-addr:value = '198.51.100.2']")); err != nil {
		t.Fatal(err)
	}
	if err := emu.AddRawObjects("trustgroup1", highValue, added, json.RawMessage(`{"type": "indicator", "id": 7, "pattern": []}`)); err != nil {
		t.Fatal(err)
	}
	emu.Corrupt(1)
	bad, err := feed.Pass(context.Background(), res.Cursor)
	if err == nil || bad.Cursor != res.Cursor {
		t.Fatalf("corrupt page: err %v cursor %q", err, bad.Cursor)
	}
	next := mustPass(t, feed, res.Cursor)
	if got := fmt.Sprint(values(next.Indicators)); got != "[ip:198.51.100.1 domain:evil.example]" {
		t.Errorf("third pass = %s", got)
	}
	if next.Skipped != 2 || next.Cursor != added.Format(time.RFC3339Nano) {
		t.Errorf("skipped %d cursor %q", next.Skipped, next.Cursor)
	}
	ind := next.Indicators[0]
	if ind.Confidence != 80 || !contains(ind.Tags, "c2") || ind.Ref != "indicator--00000000-0000-4000-8000-000000000001" {
		t.Errorf("indicator = %+v", ind)
	}
}

func TestTAXIIErrors(t *testing.T) {
	emu, feed := startTAXII(t, 100)
	emu.Fail(1, http.StatusServiceUnavailable)
	_, err := feed.Pass(context.Background(), "")
	checkRetryable(t, err, 7*time.Second)
	emu.Fail(1, http.StatusTooManyRequests)
	_, err = feed.Pass(context.Background(), "")
	checkRetryable(t, err, 7*time.Second)
	checkNoSecret(t, err, taxiiPassword)

	wrong, _ := NewTAXII(TAXIIConfig{APIRoot: emu.URL() + "/trustgroup1/", Collection: highValue, Username: taxiiUser, Password: "wrong-" + taxiiPassword})
	_, err = wrong.Pass(context.Background(), "")
	if err == nil {
		t.Fatal("wrong password accepted")
	}
	checkNoSecret(t, err, "wrong-"+taxiiPassword)

	secret, _ := NewTAXII(TAXIIConfig{APIRoot: emu.URL() + "/trustgroup1/", Collection: "64993447-4d7e-4f70-b94d-d7f33742ee63", Username: taxiiUser, Password: taxiiPassword})
	if _, err := secret.Pass(context.Background(), ""); err == nil {
		t.Error("unreadable collection read")
	}
	if _, err := NewTAXII(TAXIIConfig{APIRoot: "http://u:p@host/", Collection: "x"}); err == nil {
		t.Error("credentials in api_root accepted")
	}
}

func TestParseTAXIIEnvelopeShapes(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr bool
		more    bool
	}{
		{"empty body", ``, false, false},
		{"empty object", `{}`, false, false},
		{"more", `{"more": true, "next": "abc", "objects": []}`, false, true},
		{"not json", `{"more": tru`, true, false},
		{"objects not a list", `{"objects": {}}`, true, false},
		{"more not a bool", `{"more": "yes"}`, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := ParseTAXIIEnvelope([]byte(tt.body), func(Indicator) {})
			if (err != nil) != tt.wantErr || env.More != tt.more {
				t.Errorf("env %+v err %v", env, err)
			}
		})
	}
}
