package paging

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/store"
)

// setupBasic is one user on a one-step policy of a service with support
// hours (Helsinki, weekdays 09–17).
func setupBasic(t *testing.T, start time.Time) *harness {
	h := newHarness(t, start)
	h.user("ana@example.com")
	h.user("ben@example.com")
	h.put(KindPolicy, "p", Policy{Name: "p", Steps: []Step{{DelayMinutes: 5, Targets: []Target{{Type: TargetUser, Name: "ana@example.com"}}}}})
	h.put(KindService, "s", Service{Name: "s", Policy: "p", HighFrom: "high",
		SupportHours: &SupportHours{TimeZone: "Europe/Helsinki", Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00"}})
	return h
}

// TestPageLifecycle: one open page per item; low urgency waits for support
// hours; escalate now, reassign; resolving the page closes the item and
// closing the item resolves the page.
func TestPageLifecycle(t *testing.T) {
	// Saturday 2026-12-05 12:00 UTC: outside support hours.
	h := setupBasic(t, time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))

	low := h.page("s", alert.SeverityMedium)
	if low.Urgency != UrgencyLow || low.Step != -1 || low.NextAt == nil || !low.NextAt.Equal(time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)) {
		t.Fatalf("low urgency page on a Saturday = %+v; want waiting until Monday 09:00 Helsinki (07:00 UTC)", low)
	}
	if n := h.notified(low.WorkItemID); len(n) != 0 {
		t.Errorf("low urgency notified at once: %s", h.show(n))
	}
	again, created, err := h.p.Trigger(h.ctx, auth.System, low.WorkItemID, "s", "", "")
	if err != nil || created || again.ID != low.ID {
		t.Errorf("second trigger: page %d created %v err %v; want the open page %d", again.ID, created, err, low.ID)
	}
	h.run(2*24*time.Hour - 4*time.Hour) // to Monday 08:00 UTC
	if n := h.notified(low.WorkItemID); len(n) != 1 || n[0].at != "12-07 07:00" || n[0].to != "ana@example.com" {
		t.Errorf("low urgency notifications = %s; want ana at Monday 07:00 UTC", h.show(n))
	}

	high := h.page("s", alert.SeverityCritical)
	if high.Urgency != UrgencyHigh || len(h.notified(high.WorkItemID)) != 1 {
		t.Fatalf("high urgency page = %+v, notified %s", high, h.show(h.notified(high.WorkItemID)))
	}
	responder := auth.Actor{Kind: "user", Name: "ben@example.com", Role: auth.RoleResponder}
	if _, err := h.p.Reassign(h.ctx, responder, high.ID, "ben@example.com"); err != nil {
		t.Fatal(err)
	}
	n := h.notified(high.WorkItemID)
	if len(n) != 2 || n[1].to != "ben@example.com" {
		t.Errorf("after reassign: %s; want ben notified", h.show(n))
	}
	if it, _ := h.items.Get(h.ctx, auth.System, high.WorkItemID); it.Assignee != "ben@example.com" {
		t.Errorf("reassigned item's assignee = %q", it.Assignee)
	}
	if _, err := h.p.Escalate(h.ctx, responder, high.ID); err != nil {
		t.Fatal(err)
	}
	if p, _ := h.db.GetPage(h.ctx, high.ID); p.Step != 0 || p.Rounds != 0 || p.NextAt != nil {
		// One step, no repeat: escalating now exhausts the policy.
		t.Errorf("escalated page = step %d round %d next %v", p.Step, p.Rounds, p.NextAt)
	}

	// Resolving the page closes the item.
	if _, err := h.p.Resolve(h.ctx, responder, high.ID); err != nil {
		t.Fatal(err)
	}
	if it, _ := h.items.Get(h.ctx, auth.System, high.WorkItemID); it.State != "Closed" {
		t.Errorf("item of a resolved page is %s, want Closed", it.State)
	}
	// Closing the item resolves the page.
	if _, err := h.items.Transition(h.ctx, responder, low.WorkItemID, "Removed", "false positive", 0); err != nil {
		t.Fatal(err)
	}
	if p, _ := h.db.GetPage(h.ctx, low.ID); p.State != store.PageResolved {
		t.Errorf("page of a removed item is %s, want resolved", p.State)
	}
	var saw bool
	for _, e := range mustTimeline(t, h, low.WorkItemID) {
		saw = saw || strings.Contains(e, "resolved: item")
	}
	if !saw {
		t.Error("the page's resolution is not on the item's timeline")
	}
}

func mustTimeline(t *testing.T, h *harness, id int64) []string {
	t.Helper()
	tl, err := h.db.Timeline(h.ctx, id, 0, 200)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(tl))
	for i, e := range tl {
		out[i] = e.Message
	}
	return out
}

// TestAckLinks: a link names its page and user, and is refused when
// tampered with, malformed or expired.
func TestAckLinks(t *testing.T) {
	h := setupBasic(t, time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	tok, err := h.p.LinkToken(h.ctx, 42, "ana@example.com")
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.p.CheckLink(h.ctx, tok)
	if err != nil || l.Page != 42 || l.User != "ana@example.com" {
		t.Fatalf("CheckLink = %+v, %v", l, err)
	}
	payload, sig, _ := strings.Cut(tok, ".")
	for name, bad := range map[string]string{
		"tampered payload": flip(payload) + "." + sig,
		"tampered sig":     payload + "." + strings.Repeat("A", len(sig)),
		"no dot":           payload,
		"empty":            "",
	} {
		if _, err := h.p.CheckLink(h.ctx, bad); err != ErrBadLink {
			t.Errorf("%s: err = %v, want ErrBadLink", name, err)
		}
	}
	h.clk.Advance(LinkTTL + time.Second)
	if _, err := h.p.CheckLink(h.ctx, tok); err != ErrBadLink {
		t.Errorf("expired link: err = %v, want ErrBadLink", err)
	}
}

// TestPathToActive: the acknowledgement walks the default process from
// New to Active through Approved.
func TestPathToActive(t *testing.T) {
	h := newHarness(t, time.Now())
	proc := h.items.Process()
	for _, tc := range []struct{ from, want string }{
		{"New", "[Approved Active]"}, {"Approved", "[Active]"}, {"Active", "[]"}, {"Closed", "[]"},
	} {
		got := pathTo(proc, tc.from, ActiveState)
		if s := "[" + strings.Join(got, " ") + "]"; s != tc.want {
			t.Errorf("pathTo(%s) = %s, want %s", tc.from, s, tc.want)
		}
	}
}

// flip changes a token's last character.
func flip(s string) string {
	last := s[len(s)-1]
	if last == 'A' {
		return s[:len(s)-1] + "B"
	}
	return s[:len(s)-1] + "A"
}

// TestMonitors: a heartbeat monitor that goes silent raises vigil's own
// alert and pages its service once; a beat resolves the page; a connector
// failing for longer than the threshold pages the self-monitoring
// service, and pages again only after it has recovered and failed again.
func TestMonitors(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	h := setupBasic(t, start)
	var failing time.Time
	h.p.o.Health = func() []Health {
		return []Health{{Name: "sentinel", FailingSince: failing, LastError: "401 Unauthorized"}}
	}
	h.p.o.SelfService, h.p.o.ConnectorFailure = "s", 15*time.Minute
	h.put(KindHeartbeat, "backup-job", Heartbeat{Name: "backup-job", IntervalMinutes: 10, Service: "s"})
	if err := h.p.Beat(h.ctx, auth.Actor{Kind: "key", Name: "k", Role: auth.RoleIntegration}, "backup-job"); err != nil {
		t.Fatal(err)
	}
	open := func() []store.Page {
		ps, err := h.db.ListPages(h.ctx, store.PageFilter{States: []string{store.PageTriggered}})
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	h.run(9 * time.Minute)
	if ps := open(); len(ps) != 0 {
		t.Fatalf("pages before the heartbeat is late: %+v", ps)
	}
	h.run(2 * time.Minute)
	ps := open()
	if len(ps) != 1 || !strings.Contains(ps[0].Title, "Heartbeat backup-job is silent") {
		t.Fatalf("silent heartbeat: pages %+v", ps)
	}
	h.run(30 * time.Minute) // still silent: no second page
	if n := len(open()); n != 1 {
		t.Errorf("a silence paged %d times", n)
	}
	if err := h.p.Beat(h.ctx, auth.Actor{Kind: "key", Name: "k", Role: auth.RoleIntegration}, "backup-job"); err != nil {
		t.Fatal(err)
	}
	if p, _ := h.db.GetPage(h.ctx, ps[0].ID); p.State != store.PageResolved {
		t.Errorf("a beat left the silence's page %s", p.State)
	}

	// The connector fails: nothing for 15 minutes, then one page.
	if err := h.p.Delete(h.ctx, admin, KindHeartbeat, "backup-job"); err != nil {
		t.Fatal(err)
	}
	failing = h.clk.Now()
	for range 2 {
		h.run(14 * time.Minute)
		if n := len(open()); n != 0 {
			t.Fatalf("connector paged before the threshold: %d", n)
		}
		h.run(2 * time.Minute)
		ps = open()
		if len(ps) != 1 || !strings.Contains(ps[0].Title, "Connector sentinel has been failing") {
			t.Fatalf("failing connector: pages %+v", ps)
		}
		failing = time.Time{} // it recovers: the page resolves
		h.run(time.Minute)
		if p, _ := h.db.GetPage(h.ctx, ps[0].ID); p.State != store.PageResolved {
			t.Fatalf("recovered connector's page is %s", p.State)
		}
		failing = h.clk.Now() // and fails again: a new outage pages again
	}
}

// TestResponderFollowsAssignee: when the acknowledged page's item is
// assigned to someone else (Sentinel's owner changed in the portal, say),
// the page's responder follows.
func TestResponderFollowsAssignee(t *testing.T) {
	h := setupBasic(t, time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	p := h.page("s", alert.SeverityCritical)
	ana := auth.Actor{Kind: "user", Name: "ana@example.com", Role: auth.RoleResponder}
	if _, err := h.p.Acknowledge(h.ctx, ana, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, moved, err := h.items.FollowAssignee(h.ctx, p.WorkItemID, "ben@example.com", "sentinel", "owner set in Sentinel"); err != nil || !moved {
		t.Fatalf("FollowAssignee: moved %v, %v", moved, err)
	}
	if got, _ := h.db.GetPage(h.ctx, p.ID); got.AckBy != "ben@example.com" || got.State != store.PageAcknowledged {
		t.Errorf("page after the owner changed: %+v; want acknowledged by ben", got)
	}
	if _, moved, _ := h.items.FollowAssignee(h.ctx, p.WorkItemID, "BEN@example.com", "sentinel", "again"); moved {
		t.Error("the same owner again moved the item")
	}
}

// TestMyPages: a user's pages are those that notified them, that they
// acknowledged, or whose item is assigned to them.
func TestMyPages(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) { testMyPages(t, pg) })
	}
}

func testMyPages(t *testing.T, pg bool) {
	h := newHarnessTB(t, time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), pg)
	h.user("ana@example.com")
	h.user("ben@example.com")
	h.put(KindPolicy, "p", Policy{Name: "p", Steps: []Step{{DelayMinutes: 5, Targets: []Target{{Type: TargetUser, Name: "ana@example.com"}}}}})
	h.put(KindService, "s", Service{Name: "s", Policy: "p", HighFrom: "high"})
	p := h.page("s", alert.SeverityCritical) // notifies ana
	mine := func(user string) bool {
		ps, err := h.db.ListPages(h.ctx, store.PageFilter{User: user})
		if err != nil {
			t.Fatal(err)
		}
		return len(ps) == 1 && ps[0].ID == p.ID
	}
	if !mine("ana@example.com") || mine("ben@example.com") {
		t.Fatalf("notified page: ana's %v, ben's %v; want ana's only", mine("ana@example.com"), mine("ben@example.com"))
	}
	ben := auth.Actor{Kind: "user", Name: "ben@example.com", Role: auth.RoleResponder}
	if _, err := h.p.Acknowledge(h.ctx, ben, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	if !mine("ben@example.com") {
		t.Error("a page ben acknowledged is not his")
	}
}

// TestRotationTargetAndRuleUrgency: a step may target one rotation of a
// schedule, whoever the other layers put on call; a rule's page action
// may set the urgency, here low, so the page waits for support hours.
func TestRotationTargetAndRuleUrgency(t *testing.T) {
	// Saturday: outside the service's support hours.
	h := setupBasic(t, time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	h.put(KindSchedule, "two", map[string]any{"time_zone": "UTC", "layers": []map[string]any{
		{"name": "backup", "type": "weekly", "start": "2026-11-30T00:00:00Z", "time_zone": "UTC", "participants": []string{"ben@example.com"}},
		{"name": "front", "type": "weekly", "start": "2026-11-30T00:00:00Z", "time_zone": "UTC", "participants": []string{"ana@example.com"}}}})
	if err := func() error {
		b, _ := json.Marshal(Policy{Name: "r", Steps: []Step{{DelayMinutes: 5, Targets: []Target{{Type: TargetRotation, Name: "two/nope"}}}}})
		_, _, err := h.p.Put(h.ctx, admin, KindPolicy, "r", b)
		return err
	}(); err == nil || !strings.Contains(err.Error(), "no rotation") {
		t.Fatalf("unknown rotation: %v", err)
	}
	h.put(KindPolicy, "r", Policy{Name: "r", Steps: []Step{{DelayMinutes: 5, Targets: []Target{{Type: TargetRotation, Name: "two/backup"}}}}})
	h.put(KindService, "rs", Service{Name: "rs", Policy: "r", Urgency: UrgencyHigh})
	p := h.page("rs", alert.SeverityHigh)
	if n := h.notified(p.WorkItemID); len(n) != 1 || n[0].to != "ben@example.com" {
		t.Errorf("rotation target notified %s; want ben (the backup layer), not ana (the front layer)", h.show(n))
	}

	id := h.page("rs", alert.SeverityHigh).WorkItemID // a fresh item for the rule's page
	if _, err := h.p.Resolve(h.ctx, admin, h.mustOpen(id).ID); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Run(h.ctx, id, automation.DeferredAction{Action: automation.ActionSpec{Type: automation.ActPage, Target: "s", Urgency: "low"}}); err != nil {
		t.Fatal(err)
	}
	if got := h.mustOpen(id); got.Urgency != UrgencyLow || got.Step != -1 {
		t.Errorf("rule's low-urgency page = %+v; want low, waiting for support hours", got)
	}
}

func (h *harness) mustOpen(itemID int64) store.Page {
	h.t.Helper()
	p, ok, err := h.db.OpenPageForItem(h.ctx, itemID)
	if err != nil || !ok {
		h.t.Fatalf("item %d has no open page: %v", itemID, err)
	}
	return p
}

// TestWebhookUpdates: a webhook a page notified hears its acknowledgement
// and its resolution; an email does not.
func TestWebhookUpdates(t *testing.T) {
	h := setupBasic(t, time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	c, err := h.db.AddContactMethod(h.ctx, store.ContactMethod{User: "ana@example.com", Type: notify.TypeWebhook, Value: "https://hooks.example.com/x"},
		hashCode("1"), h.clk.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	h.db.VerifyContactMethod(h.ctx, c.ID, hashCode("1"))
	p := h.page("s", alert.SeverityCritical)
	ana := auth.Actor{Kind: "user", Name: "ana@example.com", Role: auth.RoleResponder}
	if _, err := h.p.Acknowledge(h.ctx, ana, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	h.deliver()
	if _, err := h.p.Resolve(h.ctx, ana, p.ID); err != nil {
		t.Fatal(err)
	}
	ms, _ := h.db.ListOutbox(h.ctx, "", p.WorkItemID, 0, 100)
	var kinds []string
	for _, m := range ms {
		var n notify.Notification
		json.Unmarshal(m.Payload, &n)
		kinds = append(kinds, n.To.Type+":"+n.Kind)
	}
	slices.Sort(kinds)
	want := []string{"email:page", "webhook:acknowledged", "webhook:page", "webhook:resolved"}
	if !slices.Equal(kinds, want) {
		t.Errorf("notifications = %v, want %v", kinds, want)
	}
}

// TestMetrics: opening, acknowledging and resolving a page move its
// series, with the time to acknowledge observed.
func TestMetrics(t *testing.T) {
	h := setupBasic(t, time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	h.p.m = newMetrics(reg)
	p := h.page("s", alert.SeverityCritical)
	h.clk.Advance(90 * time.Second)
	ana := auth.Actor{Kind: "user", Name: "ana@example.com", Role: auth.RoleResponder}
	if _, err := h.p.Acknowledge(h.ctx, ana, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.p.Resolve(h.ctx, ana, p.ID); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(h.p.m.opened.WithLabelValues("s", "high")); got != 1 {
		t.Errorf("opened = %v", got)
	}
	if got := testutil.ToFloat64(h.p.m.resolved.WithLabelValues("s", "yes")); got != 1 {
		t.Errorf("resolved acknowledged = %v", got)
	}
	if n := testutil.CollectAndCount(reg, "vigil_page_ack_seconds"); n != 1 {
		t.Errorf("ack histogram series = %d, want 1", n)
	}
}
