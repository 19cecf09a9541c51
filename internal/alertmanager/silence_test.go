package alertmanager

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

var testNow = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// silenceBody builds a POST /api/v2/silences body around the given
// matchers JSON with times relative to testNow.
func silenceBody(matchers, starts, ends string) string {
	return `{"matchers":` + matchers + `,"startsAt":"` + starts + `","endsAt":"` + ends +
		`","createdBy":"alice","comment":"maintenance"}`
}

func TestParsePostableSilence(t *testing.T) {
	body := `{"id":"","matchers":[{"name":"alertname","value":"HighCPU","isRegex":false,"isEqual":true},` +
		`{"name":"instance","value":"web-.*","isRegex":true}],` +
		`"startsAt":"2026-12-06T11:00:00Z","endsAt":"2026-12-06T14:00:00.000Z",` +
		`"createdBy":"alice","comment":"deploy","annotations":{"ticket":"OPS-1"},"extra":1}`
	s, err := ParsePostableSilence([]byte(body), testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := Matchers{{Name: "alertname", Type: MatchEqual, Value: "HighCPU"}, {Name: "instance", Type: MatchRegexp, Value: "web-.*"}}
	if !s.Matchers.Equal(want) {
		t.Errorf("matchers = %s, want %s", s.Matchers, want)
	}
	if !s.StartsAt.Equal(testNow.Add(-time.Hour)) || !s.EndsAt.Equal(testNow.Add(2*time.Hour)) {
		t.Errorf("times = %v..%v", s.StartsAt, s.EndsAt)
	}
	if s.CreatedBy != "alice" || s.Comment != "deploy" || s.Annotations["ticket"] != "OPS-1" {
		t.Errorf("got %+v", s)
	}
	if !s.Matchers.Matches(map[string]string{"alertname": "HighCPU", "instance": "web-1"}) {
		t.Error("silence does not match its alert")
	}

	g := NewGettableSilence(s, "4b1ff0c2-7ab5-4f2b-8d55-3a0d0a2c5b1e", testNow)
	if !g.StartsAt.Equal(testNow) {
		t.Errorf("NewGettableSilence kept a past startsAt %v", g.StartsAt)
	}
	if g.Status.State != SilenceStateActive {
		t.Errorf("state = %s", g.Status.State)
	}
}

func TestParsePostableSilenceBad(t *testing.T) {
	const (
		past   = "2026-12-06T10:00:00Z"
		start  = "2026-12-06T11:00:00Z"
		end    = "2026-12-06T13:00:00Z"
		eqA    = `[{"name":"a","value":"b","isRegex":false}]`
		nested = `{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"` + start + `","endsAt":"` + end + `"`
	)
	tests := []struct {
		name, body, field, msg string
	}{
		{"not json", `{`, "body", "not valid JSON"},
		{"array", `[]`, "body", "JSON object"},
		{"empty", ``, "body", "empty"},
		{"no matchers", `{"startsAt":"` + start + `","endsAt":"` + end + `","createdBy":"a","comment":"c"}`, "matchers", "required"},
		{"empty matchers", silenceBody(`[]`, start, end), "matchers", "at least one matcher"},
		{"matchers not array", silenceBody(`{}`, start, end), "matchers", "array"},
		{"matcher null", silenceBody(`[null]`, start, end), "matchers[0]", "matcher object"},
		{"no name", silenceBody(`[{"value":"b","isRegex":false}]`, start, end), "matchers[0].name", "required"},
		{"empty name", silenceBody(`[{"name":"","value":"b","isRegex":false}]`, start, end), "matchers[0].name", "invalid label name"},
		{"no value", silenceBody(`[{"name":"a","isRegex":false}]`, start, end), "matchers[0].value", "required"},
		{"no isRegex", silenceBody(`[{"name":"a","value":"b"}]`, start, end), "matchers[0].isRegex", "required"},
		{"isRegex string", silenceBody(`[{"name":"a","value":"b","isRegex":"no"}]`, start, end), "matchers[0].isRegex", "boolean"},
		{"isEqual string", silenceBody(`[{"name":"a","value":"b","isRegex":false,"isEqual":1}]`, start, end), "matchers[0].isEqual", "boolean"},
		{"bad regex", silenceBody(`[{"name":"a","value":"b","isRegex":false},{"name":"c","value":"(","isRegex":true}]`, start, end), "matchers[1].value", "invalid regular expression"},
		{"only empty equal", silenceBody(`[{"name":"a","value":"","isRegex":false}]`, start, end), "matchers", "must not match the empty string"},
		{"only dot star", silenceBody(`[{"name":"a","value":".*","isRegex":true},{"name":"b","value":"","isRegex":false}]`, start, end), "matchers", "must not match the empty string"},
		{"no startsAt", `{"matchers":` + eqA + `,"endsAt":"` + end + `","createdBy":"a","comment":"c"}`, "startsAt", "required"},
		{"zero startsAt", silenceBody(eqA, "0001-01-01T00:00:00Z", end), "startsAt", "required"},
		{"bad startsAt", silenceBody(eqA, "tomorrow", end), "startsAt", "RFC 3339"},
		{"no endsAt", `{"matchers":` + eqA + `,"startsAt":"` + start + `","createdBy":"a","comment":"c"}`, "endsAt", "required"},
		{"end before start", silenceBody(eqA, end, start), "endsAt", "start time must be before end time"},
		{"end equals start", silenceBody(eqA, end, end), "endsAt", "start time must be before end time"},
		{"end in the past", silenceBody(eqA, "2026-12-06T09:00:00Z", past), "endsAt", "in the past"},
		{"no createdBy", nested + `,"comment":"c"}`, "createdBy", "required"},
		{"blank createdBy", nested + `,"createdBy":" ","comment":"c"}`, "createdBy", "required"},
		{"no comment", nested + `,"createdBy":"a"}`, "comment", "required"},
		{"comment number", nested + `,"createdBy":"a","comment":1}`, "comment", "string"},
		{"annotations bad", nested + `,"createdBy":"a","comment":"c","annotations":{"x":1}}`, "annotations", "string"},
		{"id number", `{"id":5}`, "id", "string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePostableSilence([]byte(tt.body), testNow)
			var fe *validation.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *validation.FieldError", err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Message, tt.msg) {
				t.Errorf("err = %q, want field %q mentioning %q", err, tt.field, tt.msg)
			}
		})
	}
}

func TestSilenceMatchesEmptyRules(t *testing.T) {
	// A lone negative matcher is refused (Alertmanager allows it): it
	// would silence every alert without the label.
	if _, err := ParsePostableSilence([]byte(silenceBody(`[{"name":"a","value":"b","isRegex":false,"isEqual":false}]`,
		"2026-12-06T11:00:00Z", "2026-12-06T13:00:00Z")), testNow); err == nil {
		t.Error("a silence matching every alert without label a was accepted")
	}
	for _, ms := range []string{
		`[{"name":"a","value":"b","isRegex":false,"isEqual":false},{"name":"c","value":"d","isRegex":false}]`,
		`[{"name":"a","value":"","isRegex":false},{"name":"b","value":"x","isRegex":false}]`,
		`[{"name":"a","value":"x|","isRegex":true},{"name":"b","value":".+","isRegex":true}]`,
	} {
		if _, err := ParsePostableSilence([]byte(silenceBody(ms, "2026-12-06T11:00:00Z", "2026-12-06T13:00:00Z")), testNow); err != nil {
			t.Errorf("%s: %v", ms, err)
		}
	}
}

func TestSilenceState(t *testing.T) {
	s := GettableSilence{StartsAt: testNow, EndsAt: testNow.Add(time.Hour)}
	tests := []struct {
		at   time.Time
		want string
	}{
		{testNow.Add(-time.Nanosecond), SilenceStatePending},
		{testNow, SilenceStateActive},
		{testNow.Add(30 * time.Minute), SilenceStateActive},
		{testNow.Add(time.Hour), SilenceStateActive},
		{testNow.Add(time.Hour + time.Nanosecond), SilenceStateExpired},
	}
	for _, tt := range tests {
		if got := s.State(tt.at); got != tt.want {
			t.Errorf("State(%v) = %s, want %s", tt.at, got, tt.want)
		}
	}
	if got := s.WithState(testNow.Add(2 * time.Hour)).Status.State; got != SilenceStateExpired {
		t.Errorf("WithState = %s", got)
	}
	if (GettableSilence{}).Matches(map[string]string{"a": "b"}) {
		t.Error("a silence without matchers matched")
	}
}
