package web_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/enrich"
	"github.com/vigil-soc/vigil/internal/enrich/vtemu"
	"github.com/vigil-soc/vigil/internal/enrichment"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/web"
)

// TestEnrichItem: "Enrich" on an item asks VirusTotal (the emulator)
// about its IP through the outbox; the summary becomes a comment, the
// report is listed with its verdict, and a second item with the same IP
// reuses the report without spending quota.
func TestEnrichItem(t *testing.T) {
	vt := vtemu.Start("vt-test-key")
	t.Cleanup(vt.Close)
	vt.AddIP("198.51.100.23", vtemu.Stats{Malicious: 12, Suspicious: 1, Harmless: 60, Undetected: 21}, map[string]any{"country": "NL", "as_owner": "Example Hosting"})
	provider, err := enrich.NewVirusTotal(enrich.VTConfig{BaseURL: vt.BaseURL, APIKey: "vt-test-key"})
	if err != nil {
		t.Fatal(err)
	}
	var svc *enrichment.Service
	var sender *outbox.Sender
	e := newEnv(t, func(o *web.Options) {
		db := o.Store.(*pingStore).DB
		svc = enrichment.New(db, o.Items, []enrich.Provider{provider}, enrichment.Options{Clock: o.Clock})
		sender = outbox.NewSender(db, map[string]outbox.Target{enrichment.Target: svc}, o.Clock, slog.New(slog.DiscardHandler))
		o.Enricher = svc
	})
	ip := map[string]any{"entities": []map[string]any{{"kind": "ip", "value": "198.51.100.23"}, {"kind": "host", "value": "vm-web-01"}}}
	first := e.ingest(t, alertBody("Beacon to a known C2", ip)).Results[0].WorkItemID
	second := e.ingest(t, alertBody("Another beacon", map[string]any{"source_id": "b-2", "entities": ip["entities"]})).Results[0].WorkItemID

	e.do(t, viewer, "POST", fmt.Sprintf("/api/v1/workitems/%d/enrich", first), map[string]any{}).wantCode(t, http.StatusForbidden)
	wantField(t, e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/enrich", first), map[string]any{"providers": []string{"Nope"}}), "providers")
	wantField(t, e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/enrich", first), map[string]any{"entity": "10.9.9.9"}), "entity")
	var q struct {
		Queued int `json:"queued"`
	}
	e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/enrich", first), nil).wantCode(t, http.StatusAccepted).decode(t, &q)
	if q.Queued != 1 { // the IP; the bare host name is nobody's to look up
		t.Fatalf("queued %d lookups, want 1", q.Queued)
	}
	if err := sender.UpdateAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Enrichments []struct {
			Provider, Verdict, Summary, Data string
			Cached                           bool
		} `json:"enrichments"`
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/workitems/%d/enrichments", first), nil).wantCode(t, http.StatusOK).decode(t, &list)
	if len(list.Enrichments) != 1 || list.Enrichments[0].Verdict != "malicious" || list.Enrichments[0].Data != "198.51.100.23" ||
		!strings.Contains(list.Enrichments[0].Summary, "12") {
		t.Fatalf("enrichments = %+v, want one malicious VirusTotal report naming 12 engines", list.Enrichments)
	}
	var comments struct {
		Items []struct {
			Author, Body string
		} `json:"items"`
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/workitems/%d/comments", first), nil).wantCode(t, http.StatusOK).decode(t, &comments)
	if len(comments.Items) != 1 || !strings.Contains(comments.Items[0].Body, "Enrichment, VirusTotal") || !strings.Contains(comments.Items[0].Body, "verdict: malicious") {
		t.Errorf("comments = %+v, want the VirusTotal summary", comments.Items)
	}

	// The second item's IP: the report is reused, VirusTotal not asked again.
	before := vt.Requests()
	e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/enrich", second), nil).wantCode(t, http.StatusAccepted)
	if err := sender.UpdateAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/workitems/%d/enrichments", second), nil).wantCode(t, http.StatusOK).decode(t, &list)
	if len(list.Enrichments) != 1 || !list.Enrichments[0].Cached || vt.Requests() != before {
		t.Errorf("second item: %+v, VirusTotal asked %d more times; want the cached report and none", list.Enrichments, vt.Requests()-before)
	}
}
