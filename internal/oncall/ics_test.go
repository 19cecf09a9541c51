package oncall

import (
	"bytes"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
)

func TestICSRoundTrip(t *testing.T) {
	shifts := []Shift{
		{User: "alice", Start: utc("2027-03-27T07:00:00Z"), End: utc("2027-03-28T06:00:00Z"), Layer: "primary", Source: SourceRotation},
		{User: "bob", Start: utc("2027-03-28T06:00:00Z"), End: utc("2027-03-29T06:00:00Z"), Source: SourceOverride},
	}
	now := utc("2027-03-01T12:00:00Z")
	out, err := ICS("SOC primary", shifts, now)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:", "DTSTART:20270327T070000Z", "X-VIGIL-USER:alice\r\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("parse back: %v", err)
	}
	events := cal.Events()
	if len(events) != len(shifts) {
		t.Fatalf("%d events, want %d", len(events), len(shifts))
	}
	uids := map[string]bool{}
	for i, ev := range events {
		start, err := ev.GetStartAt()
		if err != nil || !start.Equal(shifts[i].Start) {
			t.Errorf("event %d start %s (%v), want %s", i, start, err, shifts[i].Start)
		}
		end, err := ev.GetEndAt()
		if err != nil || !end.Equal(shifts[i].End) {
			t.Errorf("event %d end %s (%v), want %s", i, end, err, shifts[i].End)
		}
		stamp, err := ev.GetDtStampTime()
		if err != nil || !stamp.Equal(now) {
			t.Errorf("event %d DTSTAMP %s (%v)", i, stamp, err)
		}
		if s := ev.GetProperty(ics.ComponentPropertySummary); s == nil || s.Value != "On call: SOC primary" {
			t.Errorf("event %d summary %v", i, s)
		}
		if d := ev.GetProperty(ics.ComponentPropertyDescription); d == nil || !strings.Contains(d.Value, shifts[i].User) {
			t.Errorf("event %d description %v", i, d)
		}
		uids[ev.Id()] = true
	}
	if len(uids) != 2 {
		t.Errorf("UIDs not distinct: %v", uids)
	}
	// Stable: the same shift gives the same UID on the next refresh.
	again, _ := ICS("SOC primary", shifts[:1], now.Add(time.Hour))
	cal2, _ := ics.ParseCalendar(bytes.NewReader(again))
	if cal2.Events()[0].Id() != events[0].Id() {
		t.Error("UID changed between renders")
	}
	if _, err := ICS("x", []Shift{{User: "a", Start: now, End: now}}, now); err == nil {
		t.Error("empty shift accepted")
	}
}
