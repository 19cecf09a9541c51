package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/threatintel"
	"github.com/vigil-soc/vigil/internal/web"
)

// TestIndicatorsAPI: the indicators page's API lists and filters
// indicators, expires one and allow-lists another (responders only, with
// a reason), after which neither matches; the entity profile gathers an
// entity's item, its match and its indicator; feed health lists the
// feeds. Bad input gets a 400 naming the field.
func TestIndicatorsAPI(t *testing.T) {
	var svc *threatintel.Service
	e := newEnv(t, func(o *web.Options) {
		db := o.Store.(*pingStore).DB
		now := o.Clock.Now()
		if _, err := db.UpsertIndicators(t.Context(), []intel.Indicator{
			{Type: intel.IP, Value: "203.0.113.7", Feeds: []string{"otx"}, Confidence: 80, Tags: []string{"c2"}, FirstSeen: now, LastSeen: now},
			{Type: intel.Domain, Value: "cdn.example", Feeds: []string{"misp"}, Confidence: 40, FirstSeen: now, LastSeen: now},
			{Type: intel.URL, Value: "http://evil.example/x", Feeds: []string{"otx"}, Confidence: 70, FirstSeen: now, LastSeen: now},
		}); err != nil {
			t.Fatal(err)
		}
		svc = threatintel.New(db, o.Items, nil, o.Clock, nil)
		if err := svc.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		o.Intel, o.FeedInterval = svc, 15*time.Minute
	})
	ip := map[string]any{"entities": []map[string]any{{"kind": "ip", "value": "203.0.113.7"}}}
	item := e.ingest(t, alertBody("Beacon to a known C2", ip)).Results[0].WorkItemID

	var list struct {
		Indicators []struct {
			Type, Value, State string
			Feeds              []string
			Confidence         int
		} `json:"indicators"`
		Total int `json:"total"`
	}
	e.do(t, viewer, "GET", "/api/v1/indicators?type=ip", nil).wantCode(t, http.StatusOK).decode(t, &list)
	if list.Total != 1 || list.Indicators[0].Value != "203.0.113.7" || list.Indicators[0].State != "active" {
		t.Fatalf("ip indicators = %+v", list)
	}
	e.do(t, viewer, "GET", "/api/v1/indicators?feed=otx&q=evil", nil).wantCode(t, http.StatusOK).decode(t, &list)
	if list.Total != 1 || list.Indicators[0].Type != "url" {
		t.Fatalf("otx evil = %+v", list)
	}
	wantField(t, e.do(t, viewer, "GET", "/api/v1/indicators?type=hostname", nil), "type")
	wantField(t, e.do(t, viewer, "GET", "/api/v1/indicators?state=dead", nil), "state")
	wantField(t, e.do(t, viewer, "GET", "/api/v1/indicators?limit=0", nil), "limit")
	e.do(t, viewer, "GET", "/api/v1/indicators/lookup?type=url&value="+url.QueryEscape("HTTP://Evil.Example:80/x"), nil).wantCode(t, http.StatusOK)
	e.do(t, viewer, "GET", "/api/v1/indicators/lookup?type=ip&value=192.0.2.1", nil).wantCode(t, http.StatusNotFound)
	wantField(t, e.do(t, viewer, "GET", "/api/v1/indicators/lookup?type=ip&value=nope", nil), "value")

	// Allow-listing needs a responder and a reason.
	body := map[string]any{"type": "domain", "value": "CDN.example."}
	e.do(t, viewer, "POST", "/api/v1/indicators/allowlist", body).wantCode(t, http.StatusForbidden)
	wantField(t, e.do(t, responder, "POST", "/api/v1/indicators/allowlist", body), "reason")
	body["reason"] = "our CDN"
	var row struct{ State, Value, AllowReason string }
	e.do(t, responder, "POST", "/api/v1/indicators/allowlist", body).wantCode(t, http.StatusOK).decode(t, &row)
	if row.State != "allowlisted" || row.Value != "cdn.example" {
		t.Errorf("allow-listed = %+v", row)
	}
	if ms := svc.Matcher().Lookup(intel.Domain, "cdn.example", e.clk.Now()); len(ms) != 0 {
		t.Errorf("an allow-listed value still matches: %+v", ms)
	}
	wantField(t, e.do(t, responder, "POST", "/api/v1/indicators/burn", body), "action")
	wantField(t, e.do(t, responder, "POST", "/api/v1/indicators/expire", map[string]any{"value": "203.0.113.7"}), "type")

	// The entity page, before and after the IP's expiry.
	var ent struct {
		Value     string
		Items     []struct{ ID int64 }
		Indicator *struct{ State string }
		Matching  []struct{ Via string }
	}
	e.do(t, viewer, "GET", "/api/v1/entities?value=203.0.113.7", nil).wantCode(t, http.StatusOK).decode(t, &ent)
	if len(ent.Items) != 1 || ent.Items[0].ID != item || ent.Indicator == nil || ent.Indicator.State != "active" || len(ent.Matching) != 1 {
		t.Errorf("entity = %+v", ent)
	}
	e.do(t, responder, "POST", "/api/v1/indicators/expire", map[string]any{"type": "ip", "value": "203.0.113.7"}).wantCode(t, http.StatusOK).decode(t, &row)
	if row.State != "expired" {
		t.Errorf("expired = %+v", row)
	}
	e.do(t, viewer, "GET", "/api/v1/entities?value=203.0.113.7", nil).wantCode(t, http.StatusOK).decode(t, &ent)
	if ent.Indicator == nil || ent.Indicator.State != "expired" || len(ent.Matching) != 0 {
		t.Errorf("entity after expiry = %+v", ent)
	}
	wantField(t, e.do(t, viewer, "GET", "/api/v1/entities", nil), "value")

	var feeds struct {
		Feeds []map[string]any `json:"feeds"`
	}
	e.do(t, viewer, "GET", "/api/v1/intel/feeds", nil).wantCode(t, http.StatusOK).decode(t, &feeds)
	if feeds.Feeds == nil {
		t.Error("no feeds list")
	}
}
