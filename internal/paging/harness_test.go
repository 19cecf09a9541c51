package paging

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// harness is a pager on a real store with a fake clock: pages are opened
// on ingested items, the escalation module runs as the clock moves, and
// every notification queued is read back from the outbox.
type harness struct {
	t     testing.TB
	ctx   context.Context
	clk   *clock.Fake
	db    *store.DB
	items *workitem.Service
	p     *Pager
	seq   int
}

var admin = auth.Actor{Kind: "user", Name: "admin@example.com", Role: auth.RoleAdmin}

func newHarness(t *testing.T, start time.Time) *harness {
	t.Helper()
	return newHarnessTB(t, start, false)
}

// newHarnessTB is newHarness for benchmarks too, on PostgreSQL when pg.
func newHarnessTB(t testing.TB, start time.Time, pg bool) *harness {
	t.Helper()
	clk := clock.NewFake(start)
	db := storetest.SQLite(t, clk)
	if pg {
		db = storetest.Postgres(t, clk)
	}
	items := workitem.NewService(db, workitem.DefaultProcess(), clk)
	p := New(db, items, Options{BaseURL: "http://vigil.test", Clock: clk})
	items.Observe(p)
	return &harness{t: t, ctx: context.Background(), clk: clk, db: db, items: items, p: p}
}

func (h *harness) put(kind, name string, v any) {
	h.t.Helper()
	b, _ := json.Marshal(v)
	if _, _, err := h.p.Put(h.ctx, admin, kind, name, b); err != nil {
		h.t.Fatalf("put %s %s: %v", kind, name, err)
	}
}

// user gives a user a verified email and, optionally, notification rules
// (contact method delays in minutes; none: at once).
func (h *harness) user(email string, delays ...int) {
	h.t.Helper()
	c, err := h.db.AddContactMethod(h.ctx, store.ContactMethod{User: email, Type: notify.TypeEmail, Value: email}, hashCode("123456"), h.clk.Now().Add(time.Hour))
	if err != nil {
		h.t.Fatal(err)
	}
	if ok, err := h.db.VerifyContactMethod(h.ctx, c.ID, hashCode("123456")); !ok || err != nil {
		h.t.Fatalf("verify: %v %v", ok, err)
	}
	var rules []store.NotificationRule
	for _, d := range delays {
		rules = append(rules, store.NotificationRule{ContactMethodID: c.ID, DelayMinutes: d})
	}
	if len(rules) > 0 {
		if err := h.db.SetNotificationRules(h.ctx, email, rules); err != nil {
			h.t.Fatal(err)
		}
	}
}

// page ingests a new alert and pages its item on service.
func (h *harness) page(service string, sev alert.Severity) store.Page {
	h.t.Helper()
	h.seq++
	a := alert.Alert{Source: "api", SourceID: fmt.Sprintf("a%d", h.seq), Title: fmt.Sprintf("alert %d", h.seq), Severity: sev}
	if err := a.Normalize(h.clk.Now()); err != nil {
		h.t.Fatal(err)
	}
	res, err := h.db.Ingest(h.ctx, h.items.Process(), "test", []alert.Alert{a})
	if err != nil {
		h.t.Fatal(err)
	}
	p, _, err := h.p.Trigger(h.ctx, auth.System, res[0].WorkItemID, service, "", "")
	if err != nil {
		h.t.Fatal(err)
	}
	h.deliver()
	return p
}

// deliver marks the notifications that are due as sent, as the outbox
// sender would within a second.
func (h *harness) deliver() {
	h.t.Helper()
	ms, err := h.db.ListOutbox(h.ctx, outbox.Pending, 0, 0, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, m := range ms {
		if m.Target == notify.TargetName && !m.NextAt.After(h.clk.Now()) {
			if err := h.db.CompleteOutbox(h.ctx, m.ID); err != nil {
				h.t.Fatal(err)
			}
		}
	}
}

// run moves the clock by d, stopping at each page's next escalation to
// run the escalation module then, as the engine would within a second.
// (Ticking minute by minute would fire the store's fake-clock timers, a
// WAL checkpoint each, thousands of times.)
func (h *harness) run(d time.Duration) {
	h.t.Helper()
	end := h.clk.Now().Add(d)
	for {
		next := end
		ps, err := h.db.ListPages(h.ctx, store.PageFilter{States: []string{store.PageTriggered}})
		if err != nil {
			h.t.Fatal(err)
		}
		for _, p := range ps {
			if p.NextAt != nil && p.NextAt.After(h.clk.Now()) && p.NextAt.Before(next) {
				next = *p.NextAt
			}
		}
		h.clk.Advance(next.Sub(h.clk.Now()))
		if err := h.p.UpdateAll(h.ctx); err != nil {
			h.t.Fatal(err)
		}
		h.deliver()
		if !h.clk.Now().Before(end) {
			return
		}
	}
}

// sent is one notification: to whom, due when (UTC, minutes), and
// whether it is still to be sent or was cancelled.
type sent struct {
	to    string
	at    string
	state string
}

// notified lists an item's notifications in due order.
func (h *harness) notified(itemID int64) []sent {
	h.t.Helper()
	ms, err := h.db.ListOutbox(h.ctx, "", itemID, 0, 500)
	if err != nil {
		h.t.Fatal(err)
	}
	slices.SortFunc(ms, func(a, b outbox.Message) int { return cmp.Or(a.NextAt.Compare(b.NextAt), cmp.Compare(a.ID, b.ID)) })
	var out []sent
	for _, m := range ms {
		if m.Target != notify.TargetName {
			continue
		}
		var n notify.Notification
		if err := json.Unmarshal(m.Payload, &n); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, sent{to: n.To.Value, at: m.NextAt.UTC().Format("01-02 15:04"), state: m.State})
	}
	return out
}

func (h *harness) show(ss []sent) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "%s %s %s; ", s.at, s.to, s.state)
	}
	return b.String()
}

// TestWeekAcrossDST runs a week of pages on a Helsinki schedule across
// the spring change (2027-03-28, 03:00 → 04:00 local) and on a New York
// one (2027-03-14, 02:00 → 03:00), asserting who was notified when: the
// 09:00 local hand-off moves in UTC with the clocks; an unanswered page
// escalates to the team lead and repeats; an acknowledgement stops the
// escalation and cancels a delayed notification; an override takes the
// person's place; a maintenance window opens no page.
func TestWeekAcrossDST(t *testing.T) {
	cases := []struct {
		zone           string
		start          time.Time // Monday 00:00 UTC of the week
		beforeHandoff  string    // UTC time on the change's eve, 30 min before the local 09:00 hand-off
		afterChangeDay string    // UTC time on the change day, 30 min after the local 09:00 hand-off
	}{
		{"Europe/Helsinki", time.Date(2027, 3, 22, 0, 0, 0, 0, time.UTC), "06:30", "06:30"},
		{"America/New_York", time.Date(2027, 3, 8, 0, 0, 0, 0, time.UTC), "13:30", "13:30"},
	}
	for _, tc := range cases {
		t.Run(tc.zone, func(t *testing.T) {
			h := newHarness(t, tc.start)
			for _, u := range []string{"ana@example.com", "ben@example.com", "dan@example.com"} {
				h.user(u)
			}
			h.user("cai@example.com", 0, 3) // email now, and again 3 minutes later
			loc, _ := time.LoadLocation(tc.zone)
			first := time.Date(tc.start.Year(), tc.start.Month(), tc.start.Day(), 9, 0, 0, 0, loc)
			override := tc.start.Add(4 * 24 * time.Hour) // Friday, all day UTC
			h.put(KindSchedule, "primary", map[string]any{"name": "primary", "time_zone": tc.zone,
				"layers": []map[string]any{{"name": "daily", "type": "daily", "start": first.Format(time.RFC3339), "time_zone": tc.zone,
					"participants": []string{"ana@example.com", "ben@example.com", "cai@example.com"}}},
				"overrides": []map[string]any{{"kind": "replace", "user": "dan@example.com", "replaces": "ben@example.com",
					"start": override.Format(time.RFC3339), "end": override.Add(24 * time.Hour).Format(time.RFC3339)}}})
			h.put(KindTeam, "leads", Team{Name: "leads", Members: []string{"dan@example.com"}})
			h.put(KindPolicy, "sec", Policy{Name: "sec", Repeat: 1, Steps: []Step{
				{DelayMinutes: 5, Targets: []Target{{Type: TargetSchedule, Name: "primary"}}},
				{DelayMinutes: 10, Targets: []Target{{Type: TargetTeam, Name: "leads"}}}}})
			mw := tc.start.Add(3*24*time.Hour + 12*time.Hour) // Thursday 12:00–14:00 UTC
			h.put(KindService, "soc", Service{Name: "soc", Policy: "sec", Urgency: UrgencyHigh,
				Maintenance: []Window{{Start: mw, End: mw.Add(2 * time.Hour), Reason: "patching"}}})

			at := func(day int, hhmm string) {
				t.Helper()
				hm, _ := time.Parse("15:04", hhmm)
				target := tc.start.Add(time.Duration(day)*24*time.Hour + time.Duration(hm.Hour())*time.Hour + time.Duration(hm.Minute())*time.Minute)
				if d := target.Sub(h.clk.Now()); d > 0 {
					h.run(d)
				}
			}
			want := func(p store.Page, exp ...string) {
				t.Helper()
				got := h.notified(p.WorkItemID)
				var gotS []string
				for _, s := range got {
					gotS = append(gotS, s.at+" "+s.to+" "+s.state)
				}
				if !slices.Equal(gotS, exp) {
					t.Errorf("page %d notified:\n got  %q\n want %q", p.ID, gotS, exp)
				}
			}
			day := func(d int) string { return tc.start.Add(time.Duration(d) * 24 * time.Hour).Format("01-02") }

			// Monday, nobody acknowledges: step 1 (ana, Monday's), step 2
			// after 5 min (dan), then the repeat after 10 more, then done.
			at(0, "15:00")
			p := h.page("soc", alert.SeverityHigh)
			at(0, "15:40")
			want(p, day(0)+" 15:00 ana@example.com done", day(0)+" 15:05 dan@example.com done",
				day(0)+" 15:15 ana@example.com done", day(0)+" 15:20 dan@example.com done")
			if got, _ := h.db.GetPage(h.ctx, p.ID); got.NextAt != nil || got.State != "triggered" {
				t.Errorf("exhausted page: state %s next %v; want triggered with nothing due", got.State, got.NextAt)
			}

			// Wednesday 16:00 UTC, after the local hand-off in both zones,
			// is cai's day (the rotation is ana, ben, cai from Monday):
			// email now and a second one in 3 min; cai acknowledges after
			// 2 min, which cancels the second and stops the escalation.
			at(2, "16:00")
			p = h.page("soc", alert.SeverityHigh)
			at(2, "16:02")
			if _, err := h.p.Acknowledge(h.ctx, auth.Actor{Kind: "user", Name: "cai@example.com", Role: auth.RoleResponder}, p.ID, ""); err != nil {
				t.Fatal(err)
			}
			at(2, "16:30")
			want(p, day(2)+" 16:00 cai@example.com done", day(2)+" 16:03 cai@example.com cancelled")
			it, _ := h.items.Get(h.ctx, auth.System, p.WorkItemID)
			if it.Assignee != "cai@example.com" || it.State != ActiveState {
				t.Errorf("acknowledged item: assignee %q state %s; want cai, Active", it.Assignee, it.State)
			}

			// Thursday 13:00 UTC is in the maintenance window: no page.
			at(3, "13:00")
			if p = h.page("soc", alert.SeverityHigh); p.ID != 0 {
				t.Errorf("a page opened in the maintenance window: %+v", p)
			}

			// Friday is ben's, but dan replaces him all day.
			at(4, "16:00")
			p = h.page("soc", alert.SeverityHigh)
			want(p, day(4)+" 16:00 dan@example.com done")
			h.p.Resolve(h.ctx, admin, p.ID)

			// Around the local 09:00 hand-off: on Saturday, 30 min before
			// it, Friday's turn (ben, the override over) is still on
			// call; on Sunday, the change day, the same UTC time is 30 min
			// after it, so Sunday's turn (ana) is. Were the hand-off at a
			// fixed UTC time, Sunday's page would go to Saturday's cai.
			at(5, tc.beforeHandoff)
			p = h.page("soc", alert.SeverityHigh)
			want(p, day(5)+" "+tc.beforeHandoff+" ben@example.com done")
			h.p.Resolve(h.ctx, admin, p.ID)
			at(6, tc.afterChangeDay)
			p = h.page("soc", alert.SeverityHigh)
			want(p, day(6)+" "+tc.afterChangeDay+" ana@example.com done")
		})
	}
}
