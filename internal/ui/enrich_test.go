package ui_test

import (
	"context"
	"log/slog"
	"net/url"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/enrich"
	"github.com/vigil-soc/vigil/internal/enrich/vtemu"
	"github.com/vigil-soc/vigil/internal/enrichment"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/ui"
)

// TestEnrichButton: a responder presses Enrich on an item; once the
// lookup has run, the IP carries a "malicious" badge, the report is
// listed with its full report folded, and the summary is a comment. A
// viewer sees the reports but no button, and may not enrich.
func TestEnrichButton(t *testing.T) {
	vt := vtemu.Start("k")
	t.Cleanup(vt.Close)
	vt.AddIP("198.51.100.77", vtemu.Stats{Malicious: 9, Harmless: 60}, nil)
	p, err := enrich.NewVirusTotal(enrich.VTConfig{BaseURL: vt.BaseURL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	var svc *enrichment.Service
	e := newEnv(t, func(o *ui.Options) {
		svc = enrichment.New(o.Records.(enrichment.Store), o.Items, []enrich.Provider{p}, enrichment.Options{Clock: o.Clock})
		o.Enricher = svc
	})
	sender := outbox.NewSender(e.db, map[string]outbox.Target{enrichment.Target: svc}, e.clk, slog.New(slog.DiscardHandler))
	id := e.ingest(t, spec{title: "Beacon", entities: []alert.Entity{{Kind: alert.EntityIP, Value: "198.51.100.77"}}})[0]

	e.as(t, viewer).get(t, idPath("/items/%d", id)).wantCode(t, 200).wantBody(t, `id="item-enrichment"`, "No reports yet.").wantNoBody(t, `id="enrich"`)
	e.as(t, viewer).post(t, idPath("/items/%d/enrich", id), url.Values{}).wantCode(t, 403)
	e.as(t, responder).post(t, idPath("/items/%d/enrich", id), url.Values{}).wantCode(t, 303)
	if err := sender.UpdateAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.as(t, responder).get(t, idPath("/items/%d", id)).wantCode(t, 200).wantBody(t,
		"Enrichment queued: 1 lookups", // the flash, after the redirect
		`<code>198.51.100.77</code> <span class="verdict verdict-malicious"`,
		"<strong>VirusTotal</strong>", "full report", "Enrichment, VirusTotal")
}

type fakeIntel struct{ ms []store.TIMatch }

func (f fakeIntel) Matches(context.Context, auth.Actor, int64) ([]store.TIMatch, error) {
	return f.ms, nil
}

// TestThreatIntelPanel: an item whose entity matched an indicator shows
// the match, its feeds and confidence; one without shows no panel.
func TestThreatIntelPanel(t *testing.T) {
	var in fakeIntel
	e := newEnv(t, func(o *ui.Options) { o.Intel = &in })
	id := e.ingest(t, spec{title: "Beacon"})[0]
	e.as(t, viewer).get(t, idPath("/items/%d", id)).wantCode(t, 200).wantNoBody(t, `id="item-ti"`)
	in.ms = []store.TIMatch{{WorkItemID: id, Entity: "203.0.113.66", Type: "ip", Value: "203.0.113.66", Feeds: []string{"otx", "misp"}, Confidence: 85, Via: "exact", Retro: true}}
	e.as(t, viewer).get(t, idPath("/items/%d", id)).wantCode(t, 200).wantBody(t, `id="item-ti"`, "retro-hunt", "feeds otx, misp", "confidence 85")
}
