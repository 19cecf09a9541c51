package feedsemu

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := Fixtures.ReadFile("fixtures/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func get(t *testing.T, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: %v: %s", req.URL, err, body)
		}
	}
	return resp, m
}

func asMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func taxiiReq(t *testing.T, url string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", TAXIIMediaType)
	req.SetBasicAuth("u", "p")
	return req
}

func TestTAXIIAgainstFixtures(t *testing.T) {
	s, err := NewTAXIIServer("u", "p")
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	resp, disc := get(t, taxiiReq(t, base+"/taxii2/"))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != TAXIIMediaType {
		t.Fatalf("discovery: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	want := asMap(t, bytes.ReplaceAll(fixture(t, "taxii/discovery.json"), []byte("http://localhost:5000"), []byte(base)))
	if !reflect.DeepEqual(disc, want) {
		t.Errorf("discovery = %v\nwant %v", disc, want)
	}
	if _, info := get(t, taxiiReq(t, base+"/trustgroup1/")); !reflect.DeepEqual(info, asMap(t, fixture(t, "taxii/api_root_information_trustgroup1.json"))) {
		t.Errorf("api root = %v", info)
	}
	if _, st := get(t, taxiiReq(t, base+"/trustgroup1/status/2d086da7-4bdc-4f91-900e-d77486753710/")); !reflect.DeepEqual(st, asMap(t, fixture(t, "taxii/status_pending.json"))) {
		t.Errorf("status = %v", st)
	}

	var data struct {
		Trustgroup1 struct {
			Collections []map[string]any `json:"collections"`
		} `json:"trustgroup1"`
	}
	_ = json.Unmarshal(fixture(t, "taxii/medallion_default_data.json"), &data)
	_, cols := get(t, taxiiReq(t, base+"/trustgroup1/collections/"))
	list := cols["collections"].([]any)
	if len(list) != len(data.Trustgroup1.Collections) {
		t.Fatalf("collections = %d", len(list))
	}
	var hv map[string]any
	for i, c := range data.Trustgroup1.Collections {
		objs, _ := c["objects"].([]any)
		delete(c, "objects")
		delete(c, "manifest")
		if !reflect.DeepEqual(list[i], any(c)) {
			t.Errorf("collection %d = %v\nwant %v", i, list[i], c)
		}
		if c["id"] == "91a7b528-80eb-42ed-a74d-c6fbd5a26116" {
			hv = map[string]any{"objects": objs}
		}
	}

	// All objects, in pages of 3, equal the fixture's objects.
	var got []any
	next := ""
	lastHeader := ""
	for pages := 0; ; pages++ {
		url := base + "/trustgroup1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/objects/?limit=3"
		if next != "" {
			url += "&next=" + next
		}
		resp, env := get(t, taxiiReq(t, url))
		if resp.Header.Get("X-TAXII-Date-Added-First") == "" {
			t.Error("no X-TAXII-Date-Added-First")
		}
		lastHeader = resp.Header.Get("X-TAXII-Date-Added-Last")
		got = append(got, env["objects"].([]any)...)
		if env["more"] != true {
			break
		}
		next = env["next"].(string)
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if lastHeader != "2017-12-31T13:49:53.935000Z" {
		t.Errorf("last date added = %q (manifest's last)", lastHeader)
	}
	key := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	wantObjs := hv["objects"].([]any)
	sort.Slice(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
	sort.Slice(wantObjs, func(i, j int) bool { return key(wantObjs[i]) < key(wantObjs[j]) })
	if !reflect.DeepEqual(got, wantObjs) {
		t.Errorf("objects differ from the fixture:\n%v\n%v", got, wantObjs)
	}

	// added_after is exclusive.
	_, env := get(t, taxiiReq(t, base+"/trustgroup1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/objects/?added_after=2017-01-27T13:49:59.997Z"))
	if objs, _ := env["objects"].([]any); len(objs) != 1 {
		t.Errorf("added_after: %d objects, want 1", len(objs))
	}

	noAuth := taxiiReq(t, base+"/taxii2/")
	noAuth.SetBasicAuth("u", "wrong")
	if resp, _ := get(t, noAuth); resp.StatusCode != 401 {
		t.Errorf("bad password: %d", resp.StatusCode)
	}
	badAccept := taxiiReq(t, base+"/taxii2/")
	badAccept.Header.Set("Accept", "text/html")
	if resp, _ := get(t, badAccept); resp.StatusCode != 406 {
		t.Errorf("bad accept: %d", resp.StatusCode)
	}
	if err := s.AddObjects("trustgroup1", "91a7b528-80eb-42ed-a74d-c6fbd5a26116", time.Now(), json.RawMessage(`{"id": "x"}`)); err == nil {
		t.Error("object without type accepted")
	}
}

func TestOTXEmulator(t *testing.T) {
	s, err := NewOTXServer("key")
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The SDK's example indicators (fixtures) go into pulses as they are.
	var example []struct{ Indicator, Type, Description string }
	_ = json.Unmarshal(fixture(t, "otx/create_pulse_indicators_example.json"), &example)
	_ = json.Unmarshal(fixture(t, "otx/update_pulse_indicators_example.json"), new([]any))
	t0 := time.Date(2023, 8, 9, 5, 5, 14, 946000000, time.UTC)
	for i := 0; i < 5; i++ {
		p := OTXPulse{ID: "p" + strconv.Itoa(i), Name: "n", Created: t0, Modified: t0.Add(time.Duration(i) * time.Minute)}
		for j, e := range example {
			p.Indicators = append(p.Indicators, OTXIndicator{ID: int64(10*i + j), Indicator: e.Indicator, Type: e.Type, Description: e.Description, Created: t0, IsActive: 1})
		}
		if err := s.AddPulse(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddPulse(OTXPulse{ID: "x", Modified: t0, Indicators: []OTXIndicator{{Type: "Bitcoin"}}}); err == nil {
		t.Error("unknown indicator type accepted")
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/pulses/subscribed?limit=2&modified_since=2023-08-09T05:05:14.946Z", nil)
	req.Header.Set("X-OTX-API-KEY", "key")
	resp, env := get(t, req)
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	for _, k := range []string{"results", "count", "next", "previous"} {
		if _, ok := env[k]; !ok {
			t.Errorf("envelope has no %q", k)
		}
	}
	if env["count"] != 4.0 || env["previous"] != nil || !strings.Contains(env["next"].(string), "page=2") {
		t.Errorf("envelope: count %v next %v previous %v", env["count"], env["next"], env["previous"])
	}
	pulse := env["results"].([]any)[0].(map[string]any)
	if pulse["id"] != "p4" || pulse["modified"] != "2023-08-09T05:09:14.946000" {
		t.Errorf("newest first, OTX timestamps: %v %v", pulse["id"], pulse["modified"])
	}
	ind := pulse["indicators"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "indicator", "type", "created", "expiration", "is_active", "title", "description", "content", "role"} {
		if _, ok := ind[k]; !ok {
			t.Errorf("indicator has no %q", k)
		}
	}
	if ind["indicator"] != example[0].Indicator || ind["type"] != "IPv4" || ind["is_active"] != 1.0 || ind["expiration"] != nil {
		t.Errorf("indicator = %v", ind)
	}
	req.Header.Set("X-OTX-API-KEY", "nope")
	if resp, _ := get(t, req); resp.StatusCode != 403 {
		t.Errorf("bad key: %d", resp.StatusCode)
	}
}

func TestMISPEmulator(t *testing.T) {
	s, err := NewMISPServer("key")
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev := fixture(t, "misp/event_full_existing.json")
	if _, err := s.AddEvent(ev); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAttribute(MISPAttribute{Type: "not-a-type", Timestamp: "1"}); err == nil {
		t.Error("unknown type accepted")
	}
	post := func(body, key string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, base+"/attributes/restSearch", strings.NewReader(body))
		req.Header.Set("Authorization", key)
		return get(t, req)
	}
	resp, out := post(`{"returnFormat": "json", "timestamp": 0}`, "key")
	if resp.StatusCode != 200 || resp.Header.Get("X-Result-Count") != "9" {
		t.Fatalf("status %d count %s", resp.StatusCode, resp.Header.Get("X-Result-Count"))
	}
	served := out["response"].(map[string]any)["Attribute"].([]any)
	var orig struct{ Attribute []map[string]any }
	_ = json.Unmarshal(ev, &orig)
	byID := map[any]map[string]any{}
	for _, a := range served {
		byID[a.(map[string]any)["id"]] = a.(map[string]any)
	}
	for _, o := range orig.Attribute {
		s := byID[o["id"]]
		if s == nil {
			t.Fatalf("attribute %v not served", o["id"])
		}
		for k, v := range o {
			if !reflect.DeepEqual(s[k], v) {
				t.Errorf("attribute %v field %s = %v, want %v", o["id"], k, s[k], v)
			}
		}
		if s["Event"] == nil {
			t.Errorf("attribute %v without Event", o["id"])
		}
	}
	_, out = post(`{"returnFormat": "json", "to_ids": true, "timestamp": "0", "page": 2, "limit": 5}`, "key")
	if n := len(out["response"].(map[string]any)["Attribute"].([]any)); n != 2 {
		t.Errorf("page 2 of to_ids: %d attributes, want 2 of 7", n)
	}
	resp, e := post(`{}`, "bad")
	if resp.StatusCode != 403 || e["name"] == nil || e["message"] == nil || e["url"] != "/attributes/restSearch" {
		t.Errorf("bad key: %d %v", resp.StatusCode, e)
	}
}

func TestFailAndCorrupt(t *testing.T) {
	s, _ := NewOTXServer("k")
	base, _ := s.Start()
	defer s.Close()
	s.Fail(1, 429)
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/pulses/subscribed", nil)
	req.Header.Set("X-OTX-API-KEY", "k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("fail: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	s.Corrupt(1)
	resp, _ = http.DefaultClient.Do(req)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if json.Valid(body) {
		t.Error("corrupt page is valid JSON")
	}
	if s.Requests() != 2 {
		t.Errorf("requests = %d", s.Requests())
	}
}
