package twoway_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/connector/servicenow"
	"github.com/vigil-soc/vigil/internal/connector/servicenow/servicenowsim"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/workitem"
	"github.com/vigil-soc/vigil/internal/writeback"
)

// TestTicketMirror: each new work item gets a ServiceNow incident, once;
// closing the item resolves it with the reason as close notes, along with
// the write-backs to the sources.
func TestTicketMirror(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	snow := servicenowsim.New(servicenowsim.Options{})
	srv := httptest.NewServer(snow)
	defer srv.Close()
	client, err := servicenow.New(servicenow.Config{URL: srv.URL, User: "vigil", Password: "secret", HTTPClient: srv.Client()}, h.db)
	if err != nil {
		t.Fatal(err)
	}
	mirror := twoway.NewMirror(twoway.Tickets{System: servicenow.Target}, h.db, h.proc, h.log)
	h.items = workitem.NewService(h.db, h.proc, h.clk).WithPlanner(writeback.New(h.db).With(mirror))
	h.sender = outbox.NewSender(h.db, map[string]outbox.Target{"sentinel": h.sentinel, "defender": h.defender,
		servicenow.Target: client}, h.clk, h.log)
	h.modules = append(h.modules, mirror)

	_, incName := h.raise(1)
	h.cycle()
	h.cycle() // a second pass queues nothing new
	it := h.itemOf(incName)
	ref, err := h.db.ExternalRef(ctx, it.ID, servicenow.Target)
	if err != nil || ref == "" {
		t.Fatalf("ServiceNow ref of item %d = %q, %v", it.ID, ref, err)
	}
	// Every open item is mirrored once: the incident's Issue and the alert's Problem.
	items, _ := h.db.ListWorkItems(ctx, workitem.Filter{})
	if got := len(snow.Incidents()); got != len(items) {
		t.Errorf("ServiceNow incidents = %d, want one per work item (%d)", got, len(items))
	}

	h.walk(it.ID, "true positive: contained")
	h.drain(5)
	inc, ok := snow.Incident(ref)
	if !ok || inc["state"] != "6" || !strings.Contains(inc["close_notes"], "contained") {
		t.Errorf("ServiceNow incident = %v, want Resolved (6) with the reason as close notes", inc)
	}
	if got := h.incident(incName).Status; got != "Closed" {
		t.Errorf("Sentinel incident = %s, want Closed", got)
	}
}
