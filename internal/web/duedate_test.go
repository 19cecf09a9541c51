package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPatchDueDate sets, moves and clears a work item's due date through
// PATCH /api/v1/workitems/{id}, and refuses what is not a date with a 400
// naming due_date.
func TestPatchDueDate(t *testing.T) {
	e := newEnv(t)
	id := e.ingest(t, alertBody("Disk encryption should be applied", nil)).Results[0].WorkItemID
	type withDue struct {
		DueAt *time.Time `json:"due_at"`
		Rev   int        `json:"rev"`
	}
	for _, tc := range []struct {
		in    string
		want  string // RFC 3339, "" for none
		entry string
	}{
		{"2030-03-01", "2030-03-01T00:00:00Z", `due date changed from "" to "2030-03-01"`},
		{"2030-03-08T12:30:00+02:00", "2030-03-08T10:30:00Z", `due date changed from "2030-03-01" to "2030-03-08T10:30:00Z"`},
		{"", "", `due date changed from "2030-03-08T10:30:00Z" to ""`},
	} {
		var it withDue
		e.patch(t, id, map[string]any{"due_date": tc.in}).wantCode(t, http.StatusOK).decode(t, &it)
		got := ""
		if it.DueAt != nil {
			got = it.DueAt.UTC().Format(time.RFC3339)
		}
		if got != tc.want {
			t.Errorf("due_date %q: due_at %q, want %q", tc.in, got, tc.want)
		}
		tl := e.timeline(t, id)
		if last := tl[len(tl)-1]; !strings.Contains(last.Msg, tc.entry) {
			t.Errorf("due_date %q: timeline %q, want %q", tc.in, last.Msg, tc.entry)
		}
	}
	rev := e.item(t, id).Rev
	for _, bad := range []any{"next week", "2030-02-30", "0001-01-01", 20300301} {
		r := e.patch(t, id, map[string]any{"due_date": bad}).wantCode(t, http.StatusBadRequest)
		if f := r.apiErr(t).Error.Field; f != "due_date" {
			t.Errorf("due_date %v: error.field %q, want due_date", bad, f)
		}
	}
	if got := e.item(t, id).Rev; got != rev {
		t.Errorf("refused patches changed the item: rev %d, want %d", got, rev)
	}
}
