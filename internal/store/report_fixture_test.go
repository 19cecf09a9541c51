package store_test

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/oncall"
	"github.com/vigil-soc/vigil/internal/report"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// The reports' fixture: items with known timestamps around the spring DST
// change in Helsinki (Sunday 2027-03-28, 03:00 EET → 04:00 EEST: the local
// day is 23 hours), and every figure checked against values worked out by
// hand in the comments. The period is the local days 27, 28 and 29 March:
// [2027-03-26T22:00Z, 2027-03-29T21:00Z).
//
//	I0  high   26 21:30Z  before the period; ana removes it at 21:40Z (false positive)
//	I1  high   27 08:00Z  "Brute force": ana assigns and approves 08:10 (TTA 600),
//	                      Active 09:00, Verification 10:00, Closed 12:00 true positive (TTR 14400)
//	I2  high   27 20:00Z  "Brute force": paged (service sec), escalated twice, cai
//	                      acknowledges the page 20:30 (TTA 1800), removes it 21:00 as false positive (TTR 3600)
//	I3  crit   28 00:30Z  "Malware", on the DST night (02:30 EET): paged; ana comments 01:30
//	                      (acting, not acknowledging), assigns and approves 02:00 (TTA 5400),
//	                      Active 03:00, still Active
//	I4  low    28 10:00Z  "Impossible travel": a rule removes it 10:05 as benign (TTR 300), nobody acts
//	I5  low    28 21:30Z  "Impossible travel": 00:30 EEST on the 29th locally (23:30 on the
//	                      28th at a fixed +2); untouched, New
//	I6  medium 29 06:00Z  "Brute force": ben assigns himself 06:20 (TTA 1200), Approved 06:30,
//	                      Active 07:00, Verification 08:00, back to Active 09:00, Verification 10:00,
//	                      Closed 11:00 undetermined (TTR 18000)
//	I7  low    29 12:00Z  I4's alert fires again: a reopened item (previous I4), New
//	I8  low    29 13:00Z  merged into I1: counted nowhere
//
// Now is 2027-03-30T12:30Z.
func TestReportFixture(t *testing.T) {
	z := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	clk := clock.NewFake(z("2027-03-26T21:30:00Z"))
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		proc := workitem.DefaultProcess()
		items := workitem.NewService(db, proc, clk)
		person := func(email string) auth.Actor {
			return auth.Actor{Kind: "user", Name: email, Role: auth.RoleResponder}
		}
		rule := auth.Actor{Kind: "rule", Name: "rule:auto-close", Role: auth.RoleAdmin}
		at := func(s string) { clk.Set(z(s)) }
		ingest := func(when, id, title string, sev alert.Severity, firing string) int64 {
			t.Helper()
			at(when)
			a := alert.Alert{Source: "prometheus", SourceID: id, Title: title, Severity: sev, Firing: firing}
			if err := a.Normalize(clk.Now()); err != nil {
				t.Fatal(err)
			}
			res, err := db.Ingest(ctx, proc, "test", []alert.Alert{a})
			if err != nil || len(res) != 1 || res[0].WorkItemID == 0 {
				t.Fatalf("ingest %s: %v %+v", id, err, res)
			}
			return res[0].WorkItemID
		}
		move := func(when string, who auth.Actor, id int64, to, reason string) {
			t.Helper()
			at(when)
			if _, err := items.Transition(ctx, who, id, to, reason, 0); err != nil {
				t.Fatalf("move %d to %s: %v", id, to, err)
			}
		}
		assign := func(when, who string, id int64) {
			t.Helper()
			at(when)
			if _, err := items.Update(ctx, person(who), id, workitem.Patch{Assignee: &who}, 0); err != nil {
				t.Fatalf("assign %d: %v", id, err)
			}
		}
		notify := func(when, id, user, channel string, page, item int64) {
			t.Helper()
			at(when)
			if err := db.RecordSend(ctx, store.NotificationLogEntry{ID: id, ContactMethodID: 1, User: user, Channel: channel, Kind: "page",
				PageID: page, WorkItemID: item, Provider: channel, Status: "sent"}, 0); err != nil {
				t.Fatal(err)
			}
		}
		page := func(when string, item int64) int64 {
			t.Helper()
			at(when)
			p, _, err := db.CreatePage(ctx, store.Page{Service: "sec", WorkItemID: item, State: store.PageTriggered, Urgency: "high"},
				func(store.Page) (store.PageEffects, error) { return store.PageEffects{}, nil })
			if err != nil {
				t.Fatal(err)
			}
			return p.ID
		}

		i0 := ingest("2027-03-26T21:30:00Z", "a0", "Port scan", alert.SeverityHigh, "")
		move("2027-03-26T21:40:00Z", person("ana@example.com"), i0, "Removed", "False positive")

		i1 := ingest("2027-03-27T08:00:00Z", "a1", "Brute force", alert.SeverityHigh, "")
		assign("2027-03-27T08:10:00Z", "ana@example.com", i1)
		move("2027-03-27T08:10:00Z", person("ana@example.com"), i1, "Approved", "")
		move("2027-03-27T09:00:00Z", person("ana@example.com"), i1, "Active", "")
		move("2027-03-27T10:00:00Z", person("ana@example.com"), i1, "Verification", "")
		move("2027-03-27T12:00:00Z", person("ana@example.com"), i1, "Closed", "True positive")

		i2 := ingest("2027-03-27T20:00:00Z", "a2", "Brute force", alert.SeverityHigh, "")
		p1 := page("2027-03-27T20:00:00Z", i2)
		notify("2027-03-27T20:00:00Z", "n1", "ben@example.com", "sms", p1, i2)
		notify("2027-03-27T20:00:30Z", "n2", "ben@example.com", "email", p1, i2) // the same interruption
		notify("2027-03-27T20:05:00Z", "n3", "ben@example.com", "sms", p1, i2)   // escalated: a second one
		notify("2027-03-27T20:10:00Z", "n4", "cai@example.com", "sms", p1, i2)   // escalated again: cai
		at("2027-03-27T20:30:00Z")
		if _, err := db.UpdatePage(ctx, p1, func(p *store.Page) (store.PageEffects, error) {
			now := clk.Now()
			p.State, p.Step, p.AckBy, p.AckAt = store.PageAcknowledged, 2, "cai@example.com", &now
			return store.PageEffects{}, nil
		}); err != nil {
			t.Fatal(err)
		}
		assign("2027-03-27T20:30:00Z", "cai@example.com", i2)
		move("2027-03-27T21:00:00Z", person("cai@example.com"), i2, "Removed", "False positive")

		i3 := ingest("2027-03-28T00:30:00Z", "a3", "Malware", alert.SeverityCritical, "")
		p2 := page("2027-03-28T00:30:00Z", i3)
		notify("2027-03-28T00:30:00Z", "n5", "cai@example.com", "sms", p2, i3)
		at("2027-03-28T01:30:00Z")
		if _, err := items.Comment(ctx, person("ana@example.com"), i3, "looking"); err != nil {
			t.Fatal(err)
		}
		assign("2027-03-28T02:00:00Z", "ana@example.com", i3)
		move("2027-03-28T02:00:00Z", person("ana@example.com"), i3, "Approved", "")
		move("2027-03-28T03:00:00Z", person("ana@example.com"), i3, "Active", "")

		i4 := ingest("2027-03-28T10:00:00Z", "a4", "Impossible travel", alert.SeverityLow, "f1")
		move("2027-03-28T10:05:00Z", rule, i4, "Removed", "Benign: expected activity")

		i5 := ingest("2027-03-28T21:30:00Z", "a5", "Impossible travel", alert.SeverityLow, "")

		i6 := ingest("2027-03-29T06:00:00Z", "a6", "Brute force", alert.SeverityMedium, "")
		assign("2027-03-29T06:20:00Z", "ben@example.com", i6)
		move("2027-03-29T06:30:00Z", person("ben@example.com"), i6, "Approved", "")
		move("2027-03-29T07:00:00Z", person("ben@example.com"), i6, "Active", "")
		move("2027-03-29T08:00:00Z", person("ben@example.com"), i6, "Verification", "")
		move("2027-03-29T09:00:00Z", person("ben@example.com"), i6, "Active", "")
		move("2027-03-29T10:00:00Z", person("ben@example.com"), i6, "Verification", "")
		move("2027-03-29T11:00:00Z", person("ben@example.com"), i6, "Closed", "Undetermined")

		i7 := ingest("2027-03-29T12:00:00Z", "a4", "Impossible travel", alert.SeverityLow, "f2")
		if got := mustGetItem(t, db, i7).PreviousID; got != i4 {
			t.Fatalf("I7's previous item = %d, want I4 (%d)", got, i4)
		}
		i8 := ingest("2027-03-29T13:00:00Z", "a8", "Brute force", alert.SeverityLow, "")
		if err := db.ExecForTest(ctx, `UPDATE workitems SET merged_into = ?, closed_at = ? WHERE id = ?`, i1, z("2027-03-29T13:05:00Z").UnixMicro(), i8); err != nil {
			t.Fatal(err)
		}
		// Two alerts an automation rule suppressed in the period.
		if err := db.ExecForTest(ctx, `INSERT INTO automation_rules (name, definition, created_at, updated_at) VALUES ('mute scans', '{}', 0, 0)`); err != nil {
			t.Fatal(err)
		}
		for i, when := range []string{"2027-03-27T05:00:00Z", "2027-03-28T05:00:00Z"} {
			u := z(when).UnixMicro()
			if err := db.ExecForTest(ctx, `INSERT INTO alerts (source, dedup_key, title, severity, status, first_seen, last_seen, version, created_at, updated_at, suppressed_by)
			    VALUES ('prometheus', ?, 'Scan', 'low', 'new', ?, ?, 1, ?, ?, (SELECT id FROM automation_rules WHERE name = 'mute scans'))`,
				"scan-"+string(rune('a'+i)), u, u, u, u); err != nil {
				t.Fatal(err)
			}
		}

		at("2027-03-30T12:30:00Z")
		slos := []report.SLO{
			{Name: "high-ack", Metric: report.MetricAck, Severity: []string{"high", "critical"}, Target: 15 * time.Minute, Objective: 0.95},
			{Name: "all-resolve", Metric: report.MetricResolve, Target: 4 * time.Hour, Objective: 0.5},
			{Name: "team-ack", Metric: report.MetricAck, Team: "blue", Target: 30 * time.Minute, Objective: 0.9},
		}
		svc := report.New(db, fixtureRota(t), proc, report.Options{SLOs: slos, Clock: clk, StuckAfter: 36 * time.Hour, TimeZone: "Europe/Helsinki"})
		mod := report.NewModule(db, proc, svc)
		if err := mod.UpdateAll(ctx); err != nil {
			t.Fatalf("report module: %v", err)
		}
		if err := mod.UpdateAll(ctx); err != nil { // idempotent: a second pass changes nothing
			t.Fatalf("report module, second pass: %v", err)
		}
		q := url.Values{"from": {"2027-03-27"}, "to": {"2027-03-29"}}
		run := func(name string, extra url.Values) report.Tabler {
			t.Helper()
			v := url.Values{}
			for k, x := range q {
				v[k] = x
			}
			for k, x := range extra {
				v[k] = x
			}
			r, err := svc.Run(ctx, name, v)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return r
		}

		// Response.
		resp := run(report.NameResponse, nil).(report.Response)
		if !resp.Period.From.Equal(z("2027-03-26T22:00:00Z")) || !resp.Period.To.Equal(z("2027-03-29T21:00:00Z")) {
			t.Errorf("period = %s – %s", resp.Period.From, resp.Period.To)
		}
		checkInt(t, "items", resp.Items, 7)
		checkInt(t, "acknowledged", resp.Acked, 4)
		checkInt(t, "resolved", resp.Resolved, 4)
		checkInt(t, "reopened", resp.Reopened, 1)
		// TTA 600, 1200, 1800, 5400: mean 2250; median at rank 1.5 is
		// 1500; p90 at rank 2.7 is 1800 + 0.7·3600 = 4320.
		checkStat(t, "MTTA", resp.TTA, 4, 2250, 1500, 4320)
		// TTR 300, 3600, 14400, 18000: mean 9075; median 9000; p90
		// 14400 + 0.7·3600 = 16920.
		checkStat(t, "MTTR", resp.TTR, 4, 9075, 9000, 16920)
		states := map[string]report.Stat{}
		for _, s := range resp.States {
			states[s.State] = s.Stat
		}
		// New: 300, 600, 1800, 3600, 5400 (I5 and I7 are still there).
		checkStat(t, "New", states["New"], 5, 2340, 1800, 4680)
		checkStat(t, "Approved", states["Approved"], 3, 2800, 3000, 3480)
		checkStat(t, "Active", states["Active"], 3, 3600, 3600, 3600)
		checkStat(t, "Verification", states["Verification"], 3, 4800, 3600, 6480)
		// Local days: 27th: I1, I2; 28th (23 h): I3, I4; 29th: I5, I6, I7.
		if len(resp.Series) != 3 {
			t.Fatalf("series has %d buckets, want 3", len(resp.Series))
		}
		for i, want := range []struct {
			label string
			items int64
			start string
		}{{"2027-03-27", 2, "2027-03-26T22:00:00Z"}, {"2027-03-28", 2, "2027-03-27T22:00:00Z"}, {"2027-03-29", 3, "2027-03-28T21:00:00Z"}} {
			p := resp.Series[i]
			if p.Label != want.label || p.Items != want.items || !p.Start.Equal(z(want.start)) {
				t.Errorf("bucket %d = %s %d items from %s, want %s %d from %s", i, p.Label, p.Items, p.Start.UTC().Format(time.RFC3339), want.label, want.items, want.start)
			}
		}
		// The 28th's acknowledged item is I3 (5400); the 29th's is I6
		// (1200); the 28th's resolved one is I4 (300).
		checkPtr(t, "28th median TTA", resp.Series[1].TTA.Median, 5400)
		checkPtr(t, "29th median TTA", resp.Series[2].TTA.Median, 1200)
		checkPtr(t, "28th median TTR", resp.Series[1].TTR.Median, 300)

		// Filters: team blue (ana, ben) has I1, I3, I6: TTA 600, 5400, 1200.
		blue := run(report.NameResponse, url.Values{"team": {"blue"}}).(report.Response)
		checkInt(t, "team items", blue.Items, 3)
		checkPtr(t, "team median TTA", blue.TTA.Median, 1200)
		// No data is no data: nothing is informational.
		none := run(report.NameResponse, url.Values{"severity": {"informational"}}).(report.Response)
		if none.Items != 0 || none.TTA.Median != nil || none.TTA.Mean != nil || none.TTR.P90 != nil {
			t.Errorf("an empty selection gave figures: %+v", none.TTA)
		}
		if _, err := svc.Run(ctx, report.NameResponse, url.Values{"tz": {"Mars/Olympus"}}); err == nil || !containsAll(err.Error(), "tz") {
			t.Errorf("a bad time zone: %v", err)
		}

		// SLOs.
		slo := run(report.NameSLOs, nil).(report.SLOReport)
		byName := map[string]report.SLOResult{}
		for _, s := range slo.SLOs {
			byName[s.Name] = s
		}
		// high-ack: I1 met (600 ≤ 900), I2 (1800) and I3 (5400) missed.
		checkSLO(t, byName["high-ack"], 1, 2, 1.0/3, "breached", []int64{i3, i2})
		// all-resolve (4 h): I1 (exactly 4 h), I2, I4 met; I6 (5 h) missed,
		// I3, I5 and I7 open for more than 4 h: missed. 3/7.
		checkSLO(t, byName["all-resolve"], 3, 4, 3.0/7, "breached", []int64{i7, i6, i5, i3})
		// team-ack (30 min, ana and ben): I1 and I6 met, I3 missed.
		checkSLO(t, byName["team-ack"], 2, 1, 2.0/3, "breached", []int64{i3})

		// Detection quality by rule.
		qual := run(report.NameQuality, nil).(report.Quality)
		if len(qual.Rows) != 3 {
			t.Fatalf("quality rows = %+v", qual.Rows)
		}
		bf, it, mw := qual.Rows[0], qual.Rows[1], qual.Rows[2]
		if bf.Key != "Brute force" || it.Key != "Impossible travel" || mw.Key != "Malware" {
			t.Fatalf("noisiest first: %s, %s, %s", bf.Key, it.Key, mw.Key)
		}
		if bf.Items != 3 || bf.Closed != 3 || bf.TruePositive != 1 || bf.FalsePositive != 1 || bf.Undetermined != 1 || bf.BenignPositive != 0 {
			t.Errorf("Brute force = %+v", bf)
		}
		checkPtr(t, "Brute force FP share", bf.FalsePositiveShare, 1.0/3)
		if it.Items != 3 || it.Closed != 1 || it.BenignPositive != 1 || !it.NeverActed || it.ClosedByRule != 1 {
			t.Errorf("Impossible travel = %+v", it)
		}
		checkPtr(t, "Impossible travel BP share", it.BenignPositiveShare, 1)
		if mw.Closed != 0 || mw.TruePositiveShare != nil || mw.FalsePositiveShare != nil || mw.NeverActed {
			t.Errorf("Malware, nothing closed, must have no shares: %+v", mw)
		}
		if len(qual.NeverActed) != 1 || qual.NeverActed[0] != "Impossible travel" {
			t.Errorf("never acted = %v", qual.NeverActed)
		}
		// Handling time: the items people closed, 3600, 14400, 18000.
		checkPtr(t, "median handling time", qual.MedianHandleSeconds, 14400)
		if len(qual.Suppressions) != 1 || qual.Suppressions[0].Rule != "mute scans" || qual.Suppressions[0].Hits != 2 {
			t.Fatalf("suppressions = %+v", qual.Suppressions)
		}
		checkPtr(t, "time saved", qual.Suppressions[0].SavedSeconds, 2*14400)

		// On-call load.
		oc := run(report.NameOnCall, nil).(report.OnCallLoad)
		checkInt(t, "pages", oc.Pages, 2)
		checkInt(t, "pages acknowledged", oc.Acked, 1)
		checkInt(t, "pages escalated", oc.Escalated, 1)
		checkPtr(t, "page TTA", oc.PageTTA.Median, 1800)
		people := map[string]report.PersonLoad{}
		for _, p := range oc.People {
			people[p.User] = p
		}
		// ben: one page, two interruptions (the email 30 s after the SMS
		// is the same one), both at 22:0x on Saturday night; on call the
		// 27th and the 29th (48 h, two shifts).
		checkLoad(t, people["ben@example.com"], 1, 2, 2, 2, 0, 48, 2)
		// cai: two pages, two interruptions (22:10 Saturday, 02:30
		// Sunday), acknowledged one; on call the 28th, a 23-hour day.
		checkLoad(t, people["cai@example.com"], 2, 2, 2, 2, 1, 23, 1)
		// Night is on the responder's clock: read in UTC, ben's two
		// interruptions (20:0xZ) fell at 22:0x in Helsinki, where he was
		// on call; cai's 20:10Z one came outside his shift, so the viewer's
		// zone decides (20:10 UTC: evening), and his 00:30Z one was 02:30 on
		// his shift.
		ocUTC := run(report.NameOnCall, url.Values{"tz": {"UTC"}}).(report.OnCallLoad)
		for _, p := range ocUTC.People {
			want := map[string]int64{"ben@example.com": 2, "cai@example.com": 1}[p.User]
			if p.Night != want {
				t.Errorf("read in UTC, %s had %d night interruptions, want %d", p.User, p.Night, want)
			}
		}
		if len(oc.Fairness) != 1 || oc.Fairness[0].Rotation != "primary" || len(oc.Fairness[0].Participants) != 2 {
			t.Fatalf("fairness = %+v", oc.Fairness)
		}
		ben, cai := oc.Fairness[0].Participants[0], oc.Fairness[0].Participants[1]
		checkPtr(t, "ben's share of hours", ben.HoursShare, 48.0/71)
		// In their own shifts: ben's two, and cai's 02:30 one.
		checkPtr(t, "ben's share of interruptions", ben.InterruptionShare, 2.0/3)
		checkPtr(t, "cai's share of interruptions", cai.InterruptionShare, 1.0/3)
		x, y := 2.0/48, 1.0/23
		checkPtr(t, "fairness index", oc.Fairness[0].Index, (x+y)*(x+y)/(2*(x*x+y*y)))

		// Flow.
		fl := run(report.NameFlow, nil).(report.Flow)
		wantCFD := []map[string]int64{
			{"Removed": 1},
			{"Removed": 2, "Closed": 1},
			{"Removed": 3, "Closed": 1, "Active": 1},
			{"Removed": 3, "Closed": 2, "Active": 1, "New": 2},
		}
		if len(fl.CFD) != len(wantCFD) {
			t.Fatalf("CFD has %d points, want %d", len(fl.CFD), len(wantCFD))
		}
		for i, want := range wantCFD {
			for _, st := range fl.States {
				if fl.CFD[i].Counts[st] != want[st] {
					t.Errorf("CFD at %s: %s = %d, want %d", fl.CFD[i].At.UTC().Format(time.RFC3339), st, fl.CFD[i].Counts[st], want[st])
				}
			}
		}
		for i, want := range []int64{2, 1, 1} {
			if fl.Throughput[i].Total != want {
				t.Errorf("throughput on %s = %d, want %d", fl.Throughput[i].Label, fl.Throughput[i].Total, want)
			}
		}
		// In UTC no bound cuts a day: the flow is read from daily rows.
		utc := run(report.NameFlow, url.Values{"tz": {"UTC"}}).(report.Flow)
		for i, want := range []map[string]int64{
			{"Removed": 1},
			{"Removed": 2, "Closed": 1},
			{"Removed": 3, "Closed": 1, "Active": 1, "New": 1},
			{"Removed": 3, "Closed": 2, "Active": 1, "New": 2},
		} {
			for _, st := range utc.States {
				if utc.CFD[i].Counts[st] != want[st] {
					t.Errorf("UTC CFD at %s: %s = %d, want %d", utc.CFD[i].At.UTC().Format(time.RFC3339), st, utc.CFD[i].Counts[st], want[st])
				}
			}
		}
		for i, want := range []int64{2, 1, 1} {
			if utc.Throughput[i].Total != want {
				t.Errorf("UTC throughput on %s = %d, want %d", utc.Throughput[i].Label, utc.Throughput[i].Total, want)
			}
		}
		checkInt(t, "open items", fl.WIPOpen, 3)
		for _, b := range fl.WIP {
			want := int64(0)
			if b.Label == "1–3 d" {
				want = 3
			}
			if b.Count != want {
				t.Errorf("WIP %s = %d, want %d", b.Label, b.Count, want)
			}
		}
		if fl.StuckTotal != 2 || len(fl.Stuck) != 2 || fl.Stuck[0].ItemID != i3 || fl.Stuck[1].ItemID != i5 {
			t.Errorf("stuck = %+v", fl.Stuck)
		}

		// Roll-ups: with weeks (Monday the 29th starts one), the UTC 27th
		// lies wholly in one bucket and is read from its roll-up. Counts,
		// means and SLO counts stay exact; percentiles within 2%.
		rolled := report.New(db, fixtureRota(t), proc, report.Options{SLOs: slos, Clock: clk, ExactItems: -1, TimeZone: "Europe/Helsinki"})
		rr, err := rolled.Run(ctx, report.NameResponse, url.Values{"from": {"2027-03-27"}, "to": {"2027-03-29"}, "bucket": {"week"}})
		if err != nil {
			t.Fatal(err)
		}
		r2 := rr.(report.Response)
		if r2.Exact {
			t.Error("the week buckets should read a roll-up")
		}
		checkInt(t, "rolled items", r2.Items, 7)
		checkPtr(t, "rolled mean TTA", r2.TTA.Mean, 2250)
		checkPtr(t, "rolled mean TTR", r2.TTR.Mean, 9075)
		within(t, "rolled median TTR", r2.TTR.Median, 9000, 0.02)
		within(t, "rolled p90 TTA", r2.TTA.P90, 4320, 0.02)
		rs, err := rolled.Run(ctx, report.NameSLOs, url.Values{"from": {"2027-03-27"}, "to": {"2027-03-29"}, "bucket": {"week"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range rs.(report.SLOReport).SLOs {
			if e := byName[s.Name]; s.Met != e.Met || s.Missed != e.Missed {
				t.Errorf("rolled SLO %s: %d met %d missed, want %d and %d", s.Name, s.Met, s.Missed, e.Met, e.Missed)
			}
		}
		// A whole UTC month in one bucket is read from its monthly row:
		// the same counts, classes and means as from the facts.
		month := url.Values{"tz": {"UTC"}, "from": {"2027-03-01"}, "to": {"2027-03-31"}, "bucket": {"month"}}
		for _, name := range []string{report.NameResponse, report.NameQuality, report.NameSLOs} {
			exactRep, err := svc.Run(ctx, name, month)
			if err != nil {
				t.Fatal(err)
			}
			rolledRep, err := rolled.Run(ctx, name, month)
			if err != nil {
				t.Fatal(err)
			}
			switch e := exactRep.(type) {
			case report.Response:
				r := rolledRep.(report.Response)
				if r.Exact || r.Items != 8 || r.Items != e.Items || r.Acked != e.Acked || r.Resolved != e.Resolved || *r.TTR.Mean != *e.TTR.Mean {
					t.Errorf("month from roll-ups: %d items, %d acked, %d resolved, exact %v; from facts %d, %d, %d", r.Items, r.Acked, r.Resolved, r.Exact, e.Items, e.Acked, e.Resolved)
				}
			case report.Quality:
				r := rolledRep.(report.Quality)
				if len(r.Rows) != len(e.Rows) {
					t.Fatalf("month quality rows: %d, want %d", len(r.Rows), len(e.Rows))
				}
				for i := range e.Rows {
					a, b := r.Rows[i], e.Rows[i]
					if a.Key != b.Key || a.Items != b.Items || a.Closed != b.Closed || a.FalsePositive != b.FalsePositive || a.BenignPositive != b.BenignPositive ||
						a.TruePositive != b.TruePositive || a.Undetermined != b.Undetermined || a.Acted != b.Acted {
						t.Errorf("month quality row %d: %+v, want %+v", i, a, b)
					}
				}
			case report.SLOReport:
				r := rolledRep.(report.SLOReport)
				for i := range e.SLOs {
					if r.SLOs[i].Met != e.SLOs[i].Met || r.SLOs[i].Missed != e.SLOs[i].Missed {
						t.Errorf("month SLO %s: %d/%d, want %d/%d", e.SLOs[i].Name, r.SLOs[i].Met, r.SLOs[i].Missed, e.SLOs[i].Met, e.SLOs[i].Missed)
					}
				}
			}
		}
		_ = i8
	})
}

func fixtureRota(t *testing.T) report.Rota {
	var sc oncall.Schedule
	if err := json.Unmarshal([]byte(`{"time_zone": "Europe/Helsinki", "layers": [{"name": "primary", "type": "daily",
	    "start": "2027-03-21T00:00", "time_zone": "Europe/Helsinki", "participants": ["ben@example.com", "cai@example.com"]}]}`), &sc); err != nil {
		t.Fatal(err)
	}
	sc.Name = "primary"
	if err := sc.Normalize(); err != nil {
		t.Fatal(err)
	}
	return staticRota{schedules: []*oncall.Schedule{&sc}, teams: map[string][]string{"blue": {"ana@example.com", "ben@example.com"}}}
}

type staticRota struct {
	schedules []*oncall.Schedule
	teams     map[string][]string
}

func (r staticRota) Schedules(context.Context) ([]*oncall.Schedule, error) { return r.schedules, nil }
func (r staticRota) Teams(context.Context) (map[string][]string, error)    { return r.teams, nil }

func checkInt(t *testing.T, what string, got, want int64) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %d, want %d", what, got, want)
	}
}

func checkPtr(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: no data, want %g", what, want)
		return
	}
	if math.Abs(*got-want) > 1e-6*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %g, want %g", what, *got, want)
	}
}

func within(t *testing.T, what string, got *float64, want, rel float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: no data, want %g", what, want)
		return
	}
	if math.Abs(*got-want) > rel*want {
		t.Errorf("%s = %g, want %g within %g%%", what, *got, want, rel*100)
	}
}

func checkStat(t *testing.T, what string, s report.Stat, n int64, mean, median, p90 float64) {
	t.Helper()
	checkInt(t, what+" n", s.N, n)
	checkPtr(t, what+" mean", s.Mean, mean)
	checkPtr(t, what+" median", s.Median, median)
	checkPtr(t, what+" p90", s.P90, p90)
}

func checkSLO(t *testing.T, s report.SLOResult, met, missed int64, attainment float64, status string, breaches []int64) {
	t.Helper()
	if s.Met != met || s.Missed != missed || s.Status != status {
		t.Errorf("SLO %s: %d met, %d missed, %s; want %d, %d, %s", s.Name, s.Met, s.Missed, s.Status, met, missed, status)
	}
	checkPtr(t, "SLO "+s.Name+" attainment", s.Attainment, attainment)
	var got []int64
	for _, b := range s.Breaches {
		got = append(got, b.ItemID)
	}
	if len(got) != len(breaches) {
		t.Errorf("SLO %s breaches = %v, want %v", s.Name, got, breaches)
		return
	}
	for i := range got {
		if got[i] != breaches[i] {
			t.Errorf("SLO %s breaches = %v, want %v", s.Name, got, breaches)
			return
		}
	}
}

func checkLoad(t *testing.T, p report.PersonLoad, pages, interruptions, night, weekend, acked int64, hours float64, shifts int64) {
	t.Helper()
	if p.Pages != pages || p.Interruptions != interruptions || p.Night != night || p.Weekend != weekend || p.Acknowledged != acked || p.Shifts != shifts {
		t.Errorf("%s: %+v; want pages %d, interruptions %d, night %d, weekend %d, acknowledged %d, shifts %d", p.User, p, pages, interruptions, night, weekend, acked, shifts)
	}
	if math.Abs(p.OnCallHours-hours) > 1e-9 {
		t.Errorf("%s on call %g h, want %g", p.User, p.OnCallHours, hours)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
