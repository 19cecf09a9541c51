package feeds

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/feeds/feedsemu"
)

const otxKey = "otx-secret-key-0123456789"

func mkPulse(n int, mod time.Time, inds ...feedsemu.OTXIndicator) feedsemu.OTXPulse {
	return feedsemu.OTXPulse{ID: fmt.Sprintf("64d31e8a51336%011d", n), Name: fmt.Sprintf("pulse %d", n), Created: mod.Add(-time.Hour), Modified: mod, Tags: []string{"c2", "otx"}, TLP: "green", Public: 1, Revision: 1, Indicators: inds}
}

func otxInd(id int64, typ, value string) feedsemu.OTXIndicator {
	return feedsemu.OTXIndicator{ID: id, Indicator: value, Type: typ, Created: t0, IsActive: 1}
}

func startOTX(t *testing.T) (*feedsemu.OTXServer, *OTX) {
	t.Helper()
	emu, err := feedsemu.NewOTXServer(otxKey)
	if err != nil {
		t.Fatal(err)
	}
	base, err := emu.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	feed, err := NewOTX(OTXConfig{BaseURL: base, APIKey: otxKey, Now: fixedNow, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	return emu, feed
}

func TestOTXPasses(t *testing.T) {
	emu, feed := startOTX(t)
	exp := t0.Add(30 * 24 * time.Hour)
	expiring := otxInd(3, "URL", "https://dolcuevita.com/")
	expiring.Expiration = &exp
	inactive := otxInd(9, "IPv4", "198.51.100.9")
	inactive.IsActive = 0
	pulses := []feedsemu.OTXPulse{
		mkPulse(1, t0.Add(1*time.Minute), otxInd(1, "IPv4", "82.194.84.121"), otxInd(2, "IPv6", "2001:db8::1")),
		mkPulse(2, t0.Add(2*time.Minute), expiring, otxInd(4, "domain", "1woat.top")),
		mkPulse(3, t0.Add(3*time.Minute), otxInd(5, "hostname", "m.cocktailreel.top"), otxInd(6, "FileHash-SHA256", "bd88aa59f50df195321e185fb5aa00e00a54fd79d94d2459191b7e5d709b8128")),
		mkPulse(4, t0.Add(4*time.Minute), otxInd(7, "CIDR", "203.0.113.0/24"), otxInd(8, "email", "bad@evil.example")),
		mkPulse(5, t0.Add(5*time.Minute), inactive, otxInd(10, "Mutex", "Global\\x"), otxInd(11, "FileHash-MD5", "not-a-hash")),
	}
	for _, p := range pulses {
		if err := emu.AddPulse(p); err != nil {
			t.Fatal(err)
		}
	}
	emu.AddRawPulse("broken", t0.Add(6*time.Minute), json.RawMessage(`{"id": 17, "indicators": "x"}`))

	res := mustPass(t, feed, "")
	if res.Pages != 3 {
		t.Errorf("pages = %d, want 3", res.Pages)
	}
	want := []string{"ip:82.194.84.121", "ip:2001:db8::1", "url:https://dolcuevita.com/", "domain:1woat.top", "domain:m.cocktailreel.top",
		"sha256:bd88aa59f50df195321e185fb5aa00e00a54fd79d94d2459191b7e5d709b8128", "cidr:203.0.113.0/24", "email:bad@evil.example"}
	got := values(res.Indicators)
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, w := range want {
		if !contains(got, w) {
			t.Errorf("missing %s in %v", w, got)
		}
	}
	if res.Skipped != 4 { // inactive, Mutex, bad MD5, broken pulse
		t.Errorf("skipped = %d, want 4", res.Skipped)
	}
	if want := t0.Add(5 * time.Minute).Format(time.RFC3339Nano); res.Cursor != want {
		t.Errorf("cursor = %q, want %q (the broken pulse has no modified)", res.Cursor, want)
	}
	for _, ind := range res.Indicators {
		if ind.Value == "https://dolcuevita.com/" && !ind.ValidUntil.Equal(exp) {
			t.Errorf("ValidUntil = %v, want %v", ind.ValidUntil, exp)
		}
		if ind.Confidence != DefaultConfidence || !contains(ind.Tags, "c2") || ind.Ref == "" || !ind.FirstSeen.Equal(t0) {
			t.Errorf("indicator fields: %+v", ind)
		}
	}

	// Nothing new: nothing fetched, the cursor stays.
	again := mustPass(t, feed, res.Cursor)
	if len(again.Indicators) != 0 || again.Cursor != res.Cursor {
		t.Errorf("second pass: %v cursor %q", values(again.Indicators), again.Cursor)
	}

	// A new pulse arrives; a corrupt page fails the pass and keeps the cursor.
	if err := emu.AddPulse(mkPulse(6, t0.Add(10*time.Minute), otxInd(12, "IPv4", "192.0.2.77"))); err != nil {
		t.Fatal(err)
	}
	emu.Corrupt(1)
	bad, err := feed.Pass(context.Background(), res.Cursor)
	if err == nil || bad.Cursor != res.Cursor || len(bad.Indicators) != 0 {
		t.Fatalf("corrupt page: err %v, cursor %q", err, bad.Cursor)
	}
	next := mustPass(t, feed, res.Cursor)
	if got := values(next.Indicators); len(got) != 1 || got[0] != "ip:192.0.2.77" {
		t.Errorf("third pass = %v, want only the new pulse", got)
	}
	if next.Cursor != t0.Add(10*time.Minute).Format(time.RFC3339Nano) {
		t.Errorf("cursor = %q", next.Cursor)
	}
}

func TestOTXErrors(t *testing.T) {
	emu, feed := startOTX(t)
	emu.Fail(1, http.StatusTooManyRequests)
	_, err := feed.Pass(context.Background(), "")
	checkRetryable(t, err, 7*time.Second)
	checkNoSecret(t, err, otxKey)

	emu.Fail(1, http.StatusBadGateway)
	_, err = feed.Pass(context.Background(), "")
	checkRetryable(t, err, 7*time.Second)

	wrong, _ := NewOTX(OTXConfig{BaseURL: emu.URL(), APIKey: "wrong-" + otxKey, Now: fixedNow})
	_, err = wrong.Pass(context.Background(), "")
	if err == nil {
		t.Fatal("wrong key accepted")
	}
	checkNoSecret(t, err, "wrong-"+otxKey)

	if _, err := feed.Pass(context.Background(), "yesterday"); err == nil {
		t.Error("bad cursor accepted")
	}
	if _, err := NewOTX(OTXConfig{}); err == nil {
		t.Error("missing API key accepted")
	}
}

// TestOTXFixtureTypes maps every type of indicator_types.json: the ones
// vigil matches on to a type, the others to "" (skipped).
func TestOTXFixtureTypes(t *testing.T) {
	emu, _ := feedsemu.NewOTXServer("k")
	want := map[string]string{"ipv4": "ip", "ipv6": "ip", "domain": "domain", "hostname": "domain", "email": "email", "url": "url",
		"uri": "", "filehash-md5": "md5", "filehash-sha1": "sha1", "filehash-sha256": "sha256", "filehash-pehash": "", "filehash-imphash": "",
		"cidr": "cidr", "filepath": "", "mutex": "", "cve": ""}
	types := emu.IndicatorTypes()
	if len(types) != len(want) {
		t.Fatalf("fixture types %v", types)
	}
	for _, ty := range types {
		w, ok := want[ty]
		if !ok || otxTypes[ty] != w {
			t.Errorf("%s maps to %q, want %q", ty, otxTypes[ty], w)
		}
	}
}

// TestOTXNextElsewhere: the API key is never sent to a host other than
// BaseURL's, whatever `next` says.
func TestOTXNextElsewhere(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"results": [{"id": "p", "modified": "2026-03-01T12:00:00", "indicators": []}], "count": 2, "next": "http://attacker.example/steal?page=2", "previous": null}`)
	}))
	defer srv.Close()
	feed, _ := NewOTX(OTXConfig{BaseURL: srv.URL, APIKey: otxKey, Now: fixedNow})
	res, err := feed.Pass(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "outside") || res.Cursor != "" {
		t.Errorf("err %v cursor %q", err, res.Cursor)
	}
}

// TestSince: with no cursor, each feed asks from its Since.
func TestSince(t *testing.T) {
	since := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			var m map[string]any
			_ = json.NewDecoder(r.Body).Decode(&m)
			got = append(got, fmt.Sprint(m["timestamp"]))
			fmt.Fprint(w, `{"response": {"Attribute": []}}`)
			return
		}
		got = append(got, r.URL.Query().Get("modified_since")+r.URL.Query().Get("added_after"))
		fmt.Fprint(w, `{"results": [], "next": null}`)
	}))
	defer srv.Close()
	o, _ := NewOTX(OTXConfig{BaseURL: srv.URL, APIKey: "k", Since: since})
	m, _ := NewMISP(MISPConfig{BaseURL: srv.URL, APIKey: "k", Since: since})
	x, _ := NewTAXII(TAXIIConfig{APIRoot: srv.URL, Collection: "c", Since: since})
	for _, f := range []Feed{o, m, x} {
		mustPass(t, f, "")
	}
	want := []string{"2026-02-01T00:00:00Z", strconv.FormatInt(since.Unix(), 10), "2026-02-01T00:00:00Z"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("asked from %v, want %v", got, want)
	}
}
