package ui_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/threatintel"
	"github.com/vigil-soc/vigil/internal/ui"
)

// TestIndicatorsPage: the indicators page lists and filters indicators;
// a responder allow-lists one with a reason and expires another, and
// each then shows its new state; a viewer sees no buttons and may not
// act. The entity page gathers an IP's item and indicator, and the
// item page links its entities there. Feed health is on the page too.
func TestIndicatorsPage(t *testing.T) {
	var svc *threatintel.Service
	e := newEnv(t, func(o *ui.Options) {
		db := o.Records.(*store.DB)
		now := o.Clock.Now()
		if _, err := db.UpsertIndicators(t.Context(), []intel.Indicator{
			{Type: intel.IP, Value: "203.0.113.9", Feeds: []string{"otx"}, Confidence: 85, Tags: []string{"c2"}, FirstSeen: now, LastSeen: now},
			{Type: intel.Domain, Value: "cdn.example", Feeds: []string{"misp"}, Confidence: 30, FirstSeen: now, LastSeen: now},
		}); err != nil {
			t.Fatal(err)
		}
		svc = threatintel.New(db, o.Items, nil, o.Clock, nil)
		if err := svc.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		o.Intel, o.IntelAdmin, o.FeedInterval = svc, svc, 15*time.Minute
	})
	id := e.ingest(t, spec{title: "Beacon", entities: []alert.Entity{{Kind: alert.EntityIP, Value: "203.0.113.9"}}})[0]

	e.as(t, viewer).get(t, "/indicators").wantCode(t, 200).wantBody(t, `id="indicators"`, "<code>203.0.113.9</code>", "<code>cdn.example</code>",
		"1–2 of 2", `id="feed-health"`).wantNoBody(t, `class="small expire"`)
	e.as(t, viewer).get(t, "/indicators?type=domain").wantCode(t, 200).wantBody(t, "<code>cdn.example</code>").wantNoBody(t, "<code>203.0.113.9</code>")
	e.as(t, viewer).get(t, "/indicators?type=hostname").wantCode(t, 400)
	e.as(t, viewer).post(t, "/indicators/expire", url.Values{"type": {"ip"}, "value": {"203.0.113.9"}}).wantCode(t, 403)

	e.as(t, responder).get(t, "/indicators").wantCode(t, 200).wantBody(t, `class="small expire"`, `class="small allow"`)
	e.as(t, responder).post(t, "/indicators/allowlist", url.Values{"type": {"domain"}, "value": {"cdn.example"}}).wantCode(t, 400)
	e.as(t, responder).post(t, "/indicators/allowlist", url.Values{"type": {"domain"}, "value": {"cdn.example"}, "reason": {"our CDN"}}).wantCode(t, 303)
	e.as(t, responder).get(t, "/indicators?state=allowlisted").wantCode(t, 200).wantBody(t, "allow-listed: it never matches", "<code>cdn.example</code>", "our CDN", "Remove from allow-list")

	// The entity page, reached from the item page's link.
	e.as(t, viewer).get(t, idPath("/items/%d", id)).wantCode(t, 200).wantBody(t, `href="/entities?value=203.0.113.9"`)
	e.as(t, viewer).get(t, "/entities?value=203.0.113.9").wantCode(t, 200).wantBody(t, `id="entity-value">203.0.113.9`,
		idPath(`<a href="/items/%d">`, id), `id="indicator-state">active`, "confidence 85")
	e.as(t, responder).post(t, "/indicators/expire", url.Values{"type": {"ip"}, "value": {"203.0.113.9"}, "return": {"/entities?value=203.0.113.9"}}).
		wantCode(t, 303).wantLocation(t, "/entities?value=203.0.113.9")
	e.as(t, responder).get(t, "/entities?value=203.0.113.9").wantCode(t, 200).wantBody(t, `id="indicator-state">expired`, "No live indicator matches it.")
	// Never an open redirect.
	e.as(t, responder).post(t, "/indicators/unallowlist", url.Values{"type": {"domain"}, "value": {"cdn.example"}, "return": {"//evil.example/"}}).
		wantCode(t, 303).wantLocation(t, "/indicators")
	e.as(t, viewer).get(t, "/entities").wantCode(t, 400)
}
