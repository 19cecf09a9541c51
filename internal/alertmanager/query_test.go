package alertmanager

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseAlertQuery(t *testing.T) {
	q, err := ParseAlertQuery(url.Values{
		"filter":   {`alertname="X"`, `severity=~crit.*`},
		"receiver": {"ops|dev"},
		"silenced": {"false"},
		"active":   {""},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Filter) != 2 || q.Silenced || !q.Active || !q.Inhibited || !q.Unprocessed || !q.Muted {
		t.Errorf("query = %+v", q)
	}
	if !q.Receiver.MatchString("ops") || q.Receiver.MatchString("ops2") {
		t.Error("receiver regex is not anchored")
	}

	bad := []struct {
		q     url.Values
		field string
	}{
		{url.Values{"filter": {`a=~"("`}}, "filter"},
		{url.Values{"receiver_matchers": {`{a="b"}`}}, "receiver_matchers"},
		{url.Values{"receiver": {"("}}, "receiver"},
	}
	for _, tt := range bad {
		if _, err := ParseAlertQuery(tt.q); err == nil || !strings.HasPrefix(err.Error(), tt.field+": ") {
			t.Errorf("ParseAlertQuery(%v) err = %v, want one naming %s", tt.q, err, tt.field)
		}
	}
}

func TestAlertQueryKeep(t *testing.T) {
	now := testNow
	active := GettableAlert{Labels: map[string]string{"alertname": "X"}, Receivers: []ReceiverReference{{Name: "ops"}},
		Status: AlertStatus{State: AlertStateActive}}
	silenced := GettableAlert{Labels: map[string]string{"alertname": "X"}, Receivers: []ReceiverReference{{Name: "ops"}},
		Status: AlertStatus{State: AlertStateSuppressed, SilencedBy: []string{"s1"}}}
	inhibited := GettableAlert{Labels: map[string]string{"alertname": "Y"}, Receivers: []ReceiverReference{{Name: "dev"}},
		Status: AlertStatus{State: AlertStateSuppressed, InhibitedBy: []string{"f1"}}}
	unprocessed := GettableAlert{Labels: map[string]string{"alertname": "Z"}}
	ended := active
	ended.EndsAt = now.Add(-time.Second)

	tests := []struct {
		query string
		a     GettableAlert
		want  bool
	}{
		{"", active, true},
		{"", ended, false},
		{"filter=alertname%3DX", active, true},
		{"filter=alertname%3DY", active, false},
		{"active=false", active, false},
		{"active=false", silenced, true},
		{"silenced=false", silenced, false},
		{"silenced=false", active, true},
		{"inhibited=false", inhibited, false},
		{"unprocessed=false", unprocessed, false},
		{"receiver=op.", active, true},
		{"receiver=op", active, false},
		{"receiver=dev", unprocessed, false},
	}
	for _, tt := range tests {
		v, _ := url.ParseQuery(tt.query)
		q, err := ParseAlertQuery(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.Keep(tt.a, now); got != tt.want {
			t.Errorf("?%s Keep(%v) = %v, want %v", tt.query, tt.a.Labels, got, tt.want)
		}
	}

	q, _ := ParseAlertQuery(url.Values{"muted": {"false"}})
	if q.KeepGroup(AlertGroup{Alerts: []GettableAlert{silenced, inhibited}}) {
		t.Error("muted=false kept a fully muted group")
	}
	if !q.KeepGroup(AlertGroup{Alerts: []GettableAlert{silenced, active}}) {
		t.Error("muted=false dropped a group with an active alert")
	}
}

func TestSilenceQuery(t *testing.T) {
	now := testNow
	mk := func(id string, start, end time.Duration, ms string) GettableSilence {
		m, err := ParseMatchers(ms)
		if err != nil {
			t.Fatal(err)
		}
		return GettableSilence{ID: id, Matchers: m, StartsAt: now.Add(start), EndsAt: now.Add(end)}
	}
	sils := []GettableSilence{
		mk("expired-old", -5*time.Hour, -4*time.Hour, `a="1"`),
		mk("active-late", -time.Hour, 3*time.Hour, `a="1",b=~"x.*"`),
		mk("pending", time.Hour, 2*time.Hour, `a="2"`),
		mk("expired-new", -3*time.Hour, -time.Hour, `a="1"`),
		mk("active-soon", -time.Hour, time.Hour, `a="1"`),
	}
	SortSilences(sils, now)
	var ids []string
	for _, s := range sils {
		ids = append(ids, s.ID)
	}
	if got, want := strings.Join(ids, " "), "active-soon active-late pending expired-new expired-old"; got != want {
		t.Errorf("order = %s, want %s", got, want)
	}

	tests := []struct {
		query string
		want  string
	}{
		{"", "active-soon active-late pending expired-new expired-old"},
		{"expired=false", "active-soon active-late pending"},
		{"active=false&pending=false", "expired-new expired-old"},
		{"filter=a%3D%221%22", "active-soon active-late expired-new expired-old"},
		{"filter=b%3D~%22x.*%22", "active-late"},
		// A filter selects silences by their matchers, not by matching.
		{"filter=b%3D%22xyz%22", ""},
	}
	for _, tt := range tests {
		v, _ := url.ParseQuery(tt.query)
		q, err := ParseSilenceQuery(v)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range sils {
			if q.Keep(s, now) {
				got = append(got, s.ID)
			}
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("?%s kept %q, want %q", tt.query, g, tt.want)
		}
	}
	if _, err := ParseSilenceQuery(url.Values{"filter": {"{"}}); err == nil {
		t.Error("bad filter accepted")
	}
}
