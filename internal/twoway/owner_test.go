package twoway_test

import (
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// TestSentinelOwnerFollows: an owner set on an incident in the Sentinel
// portal becomes its work item's assignee, said on the timeline, with no
// write back to Sentinel; the same owner read again changes nothing.
func TestSentinelOwnerFollows(t *testing.T) {
	h := newHarness(t)
	_, inc := h.raise(1)
	h.cycle()
	it := h.itemOf(inc)
	if it.Assignee != "" {
		t.Fatalf("new item assigned to %q", it.Assignee)
	}
	if err := h.sim.Sim.World().WithIncident(inc, func(in *simulator.Incident) (bool, error) {
		in.Owner = simulator.Owner{Email: "Ana@Contoso.com", AssignedTo: "Ana", ObjectID: "00000000-0000-0000-0000-0000000000a1"}
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	etag := h.incident(inc).ETag
	h.cycle()
	h.cycle()
	if it = h.itemOf(inc); it.Assignee != "ana@contoso.com" {
		t.Fatalf("item assignee = %q, want the Sentinel owner", it.Assignee)
	}
	var said bool
	for _, e := range h.timeline(it.ID) {
		said = said || (e.Actor == "sentinel" && strings.Contains(e.Message, "assigned to ana@contoso.com"))
		if strings.Contains(e.Message, "incident.owner") {
			t.Errorf("the owner was written back to Sentinel: %s", e.Message)
		}
	}
	if !said {
		t.Error("the assignment is not on the timeline")
	}
	if got := h.incident(inc).ETag; got != etag {
		t.Errorf("the incident changed after vigil followed its owner (etag %s → %s): an echo", etag, got)
	}
}
