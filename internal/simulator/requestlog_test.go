package simulator_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// TestRequestLog: every request to a simulated service is logged with
// its route, status, a per-credential client tag and its body's hash, and
// the control API serves the log after a sequence number.
func TestRequestLog(t *testing.T) {
	e := fltStart(t)
	other := accessToken(t, e.srv, armScope) // a second signed-in client
	if resp, b := e.raw(t, "GET", e.lsPath); resp.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", resp.StatusCode, b)
	}
	if resp, b := send(t, e.srv, "GET", e.lsPath, other, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("list as other: %d %s", resp.StatusCode, b)
	}
	send(t, e.srv, "GET", e.lsPath, "wrong", nil) // 401

	resp, b := send(t, e.srv, "GET", "/sim/v1/requests", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("requests: %d %s", resp.StatusCode, b)
	}
	var log struct {
		Value []simulator.RequestRecord `json:"value"`
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatal(err)
	}
	var lists []simulator.RequestRecord
	for _, r := range log.Value {
		if r.Route == "sim.requests" {
			t.Errorf("the log lists its own reads: %+v", r)
		}
		if r.Route == "defender.alerts.list" {
			lists = append(lists, r)
		}
	}
	if len(lists) != 3 {
		t.Fatalf("defender.alerts.list records = %d, want 3: %+v", len(lists), lists)
	}
	if got := []int{lists[0].Status, lists[1].Status, lists[2].Status}; got[0] != 200 || got[1] != 200 || got[2] != 401 {
		t.Errorf("statuses = %v, want [200 200 401]", got)
	}
	if lists[0].Client == "" || lists[0].Client == lists[1].Client {
		t.Errorf("clients = %q and %q, want two different tags", lists[0].Client, lists[1].Client)
	}
	// The raise posted a body; its hash is kept, the body is not.
	var raise *simulator.RequestRecord
	for i, r := range log.Value {
		if r.Route == "sim.defender.raise" {
			raise = &log.Value[i]
		}
	}
	if raise == nil || len(raise.BodySHA256) != 64 || raise.Status != http.StatusCreated {
		t.Errorf("raise record = %+v, want its body hash and 201", raise)
	}
	if got := e.srv.Sim.Requests(lists[1].Seq); len(got) == 0 || got[0].Seq <= lists[1].Seq {
		t.Errorf("Requests(%d) = %+v, want only later records", lists[1].Seq, got)
	}
}
