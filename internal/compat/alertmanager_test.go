package compat

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
)

// amBody builds a postableAlerts body from single-alert JSON objects, so a
// test can say only what it is about.
func amBody(elems ...string) []byte {
	return []byte("[" + strings.Join(elems, ",") + "]")
}

func TestParseAlertmanagerMapping(t *testing.T) {
	fp := func(labels map[string]string) string { return AlertmanagerFingerprint(labels) }
	for _, tt := range []struct {
		name string
		elem string
		want alert.Alert
	}{
		{
			name: "firing alert as Prometheus sends it",
			elem: `{"labels":{"alertname":"NodeDown","instance":"10.0.0.5:9100","job":"node","severity":"critical"},
				"annotations":{"summary":"Node 10.0.0.5 is down","description":"No scrape for 5m.","runbook_url":"https://runbooks/x"},
				"startsAt":"2026-01-15T11:55:00.123456789Z","endsAt":"2026-01-15T12:04:00Z",
				"generatorURL":"http://prometheus:9090/graph?g0.expr=up+%3D%3D+0"}`,
			want: alert.Alert{
				Source:      "alertmanager",
				SourceID:    fp(map[string]string{"alertname": "NodeDown", "instance": "10.0.0.5:9100", "job": "node", "severity": "critical"}),
				Product:     "node",
				Title:       "Node 10.0.0.5 is down",
				Description: "No scrape for 5m.",
				Severity:    alert.SeverityCritical,
				Status:      alert.StatusNew,
				Entities:    []alert.Entity{ip("10.0.0.5")},
				FirstSeen:   mustTime(t, "2026-01-15T11:55:00.123456789Z"),
				LastSeen:    now,
			},
		},
		{
			name: "resolved: endsAt in the past",
			elem: `{"labels":{"alertname":"NodeDown","instance":"db-1.example.com:9100","job":"node","severity":"warning"},
				"startsAt":"2026-01-15T10:00:00Z","endsAt":"2026-01-15T11:00:00+01:00"}`,
			want: alert.Alert{
				Source:    "alertmanager",
				SourceID:  fp(map[string]string{"alertname": "NodeDown", "instance": "db-1.example.com:9100", "job": "node", "severity": "warning"}),
				Product:   "node",
				Title:     "NodeDown on db-1.example.com:9100",
				Severity:  alert.SeverityMedium,
				Status:    alert.StatusResolved,
				Entities:  []alert.Entity{host("db-1.example.com")},
				FirstSeen: mustTime(t, "2026-01-15T10:00:00Z"),
				LastSeen:  now,
			},
		},
		{
			name: "endsAt exactly now is resolved",
			elem: `{"labels":{"alertname":"X"},"startsAt":"2026-01-15T11:00:00Z","endsAt":"2026-01-15T12:00:00Z"}`,
			want: alert.Alert{
				Source: "alertmanager", SourceID: fp(map[string]string{"alertname": "X"}), Product: "Prometheus",
				Title: "X", Severity: alert.SeverityMedium, Status: alert.StatusResolved,
				FirstSeen: mustTime(t, "2026-01-15T11:00:00Z"), LastSeen: now,
			},
		},
		{
			name: "minimal: only labels; times, product and severity default",
			elem: `{"labels":{"alertname":"Watchdog"}}`,
			want: alert.Alert{
				Source: "alertmanager", SourceID: fp(map[string]string{"alertname": "Watchdog"}), Product: "Prometheus",
				Title: "Watchdog", Severity: alert.SeverityMedium, Status: alert.StatusNew,
				FirstSeen: now, LastSeen: now,
			},
		},
		{
			name: "resolve-only notification starts when it ends, as in Alertmanager",
			elem: `{"labels":{"alertname":"X","job":"api"},"endsAt":"2026-01-15T11:30:00Z"}`,
			want: alert.Alert{
				Source: "alertmanager", SourceID: fp(map[string]string{"alertname": "X", "job": "api"}), Product: "api",
				Title: "X (api)", Severity: alert.SeverityMedium, Status: alert.StatusResolved,
				FirstSeen: mustTime(t, "2026-01-15T11:30:00Z"), LastSeen: now,
			},
		},
		{
			name: "zero and empty times count as unset",
			elem: `{"labels":{"alertname":"X"},"startsAt":"","endsAt":"0001-01-01T00:00:00.000Z"}`,
			want: alert.Alert{
				Source: "alertmanager", SourceID: fp(map[string]string{"alertname": "X"}), Product: "Prometheus",
				Title: "X", Severity: alert.SeverityMedium, Status: alert.StatusNew,
				FirstSeen: now, LastSeen: now,
			},
		},
		{
			name: "startsAt ahead of vigil's clock is clamped to now",
			elem: `{"labels":{"alertname":"X"},"startsAt":"2026-01-15T12:00:03Z","endsAt":"2026-01-15T12:05:00Z"}`,
			want: alert.Alert{
				Source: "alertmanager", SourceID: fp(map[string]string{"alertname": "X"}), Product: "Prometheus",
				Title: "X", Severity: alert.SeverityMedium, Status: alert.StatusNew,
				FirstSeen: now, LastSeen: now,
			},
		},
		{
			name: "kubernetes labels: node is a host, pod a namespaced cloud resource",
			elem: `{"labels":{"alertname":"KubePodCrashLooping","namespace":"shop","pod":"cart-7d9f","node":"ip-10-1-2-3.ec2.internal","instance":"10.1.2.40:8080","severity":"high"},
				"annotations":{"message":"Pod shop/cart-7d9f is crash looping."}}`,
			want: alert.Alert{
				Source:      "alertmanager",
				SourceID:    fp(map[string]string{"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "cart-7d9f", "node": "ip-10-1-2-3.ec2.internal", "instance": "10.1.2.40:8080", "severity": "high"}),
				Product:     "Prometheus",
				Title:       "KubePodCrashLooping on 10.1.2.40:8080",
				Description: "Pod shop/cart-7d9f is crash looping.",
				Severity:    alert.SeverityHigh,
				Status:      alert.StatusNew,
				Entities: []alert.Entity{
					ip("10.1.2.40"),
					host("ip-10-1-2-3.ec2.internal"),
					{Kind: alert.EntityCloudResource, Value: "shop/cart-7d9f", Attrs: map[string]string{"type": "kubernetes/pod"}},
				},
				FirstSeen: now, LastSeen: now,
			},
		},
		{
			name: "pod title without instance; duplicate host labels give one entity",
			elem: `{"labels":{"alertname":"OOM","pod":"worker-1","host":"Node-A","hostname":"node-a"}}`,
			want: alert.Alert{
				Source: "alertmanager", SourceID: fp(map[string]string{"alertname": "OOM", "pod": "worker-1", "host": "Node-A", "hostname": "node-a"}),
				Product: "Prometheus", Title: "OOM on Node-A", Severity: alert.SeverityMedium, Status: alert.StatusNew,
				Entities: []alert.Entity{
					host("node-a"),
					{Kind: alert.EntityCloudResource, Value: "worker-1", Attrs: map[string]string{"type": "kubernetes/pod"}},
				},
				FirstSeen: now, LastSeen: now,
			},
		},
		{
			name: "blackbox probe: instance is a URL",
			elem: `{"labels":{"alertname":"ProbeFailed","instance":"https://shop.example.com/health","job":"blackbox","severity":"error"}}`,
			want: alert.Alert{
				Source: "alertmanager", SourceID: fp(map[string]string{"alertname": "ProbeFailed", "instance": "https://shop.example.com/health", "job": "blackbox", "severity": "error"}),
				Product: "blackbox", Title: "ProbeFailed on https://shop.example.com/health", Severity: alert.SeverityHigh, Status: alert.StatusNew,
				Entities:  []alert.Entity{{Kind: alert.EntityURL, Value: "https://shop.example.com/health"}, host("shop.example.com")},
				FirstSeen: now, LastSeen: now,
			},
		},
		{
			name: "self-scrape on localhost gives no entity",
			elem: `{"labels":{"alertname":"PrometheusRuleFailures","instance":"localhost:9090","severity":"info"}}`,
			want: alert.Alert{
				Source: "alertmanager", SourceID: fp(map[string]string{"alertname": "PrometheusRuleFailures", "instance": "localhost:9090", "severity": "info"}),
				Product: "Prometheus", Title: "PrometheusRuleFailures on localhost:9090", Severity: alert.SeverityInformational, Status: alert.StatusNew,
				FirstSeen: now, LastSeen: now,
			},
		},
		{
			name: "no alertname and no summary: the labels are the title",
			elem: `{"labels":{"team":"db","cluster":"eu-1","empty":""},"annotations":{"summary":"  "}}`,
			want: alert.Alert{
				Source: "alertmanager", SourceID: fp(map[string]string{"team": "db", "cluster": "eu-1"}),
				Product: "Prometheus", Title: `{cluster="eu-1", team="db"}`, Severity: alert.SeverityMedium, Status: alert.StatusNew,
				FirstSeen: now, LastSeen: now,
			},
		},
		{
			name: "UTF-8 label names are accepted, as Alertmanager does by default",
			elem: `{"labels":{"alertname":"X","http.status":"500","名前":"値"}}`,
			want: alert.Alert{
				Source: "alertmanager", SourceID: fp(map[string]string{"alertname": "X", "http.status": "500", "名前": "値"}),
				Product: "Prometheus", Title: "X", Severity: alert.SeverityMedium, Status: alert.StatusNew,
				FirstSeen: now, LastSeen: now,
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAlertmanager(amBody(tt.elem), now)
			if err != nil {
				t.Fatalf("ParseAlertmanager error: %v", err)
			}
			if len(got) != 1 {
				t.Fatalf("got %d alerts, want 1", len(got))
			}
			for _, d := range diffAlert(got[0], tt.want) {
				t.Error(d)
			}
		})
	}
}

func TestParseAlertmanagerSeverity(t *testing.T) {
	for _, tt := range []struct {
		label string
		want  alert.Severity
	}{
		{"critical", alert.SeverityCritical},
		{"CRITICAL", alert.SeverityCritical},
		{"error", alert.SeverityHigh},
		{"high", alert.SeverityHigh},
		{"warning", alert.SeverityMedium},
		{"warn", alert.SeverityMedium},
		{"low", alert.SeverityLow},
		{"info", alert.SeverityInformational},
		{"informational", alert.SeverityInformational},
		{"none", alert.SeverityInformational},
		{"page", alert.SeverityMedium},
		{"", alert.SeverityMedium}, // dropped as an empty label
	} {
		body := amBody(`{"labels":{"alertname":"X","severity":"` + tt.label + `"}}`)
		got, err := ParseAlertmanager(body, now)
		if err != nil {
			t.Fatalf("severity %q: %v", tt.label, err)
		}
		if got[0].Severity != tt.want {
			t.Errorf("severity label %q: Severity = %q, want %q", tt.label, got[0].Severity, tt.want)
		}
	}
}

func TestParseAlertmanagerLongText(t *testing.T) {
	long := strings.Repeat("x", alert.MaxTitle+100)
	desc := strings.Repeat("y", alert.MaxDescription+1)
	body, _ := json.Marshal([]map[string]any{{
		"labels":      map[string]string{"alertname": "X"},
		"annotations": map[string]string{"summary": long, "description": desc},
	}})
	got, err := ParseAlertmanager(body, now)
	if err != nil {
		t.Fatalf("a long summary must be truncated, not rejected: %v", err)
	}
	if n := len(got[0].Title); n > alert.MaxTitle || !strings.HasSuffix(got[0].Title, "…") {
		t.Errorf("Title has %d bytes, want at most %d ending in …", n, alert.MaxTitle)
	}
	if n := len(got[0].Description); n > alert.MaxDescription {
		t.Errorf("Description has %d bytes, want at most %d", n, alert.MaxDescription)
	}
}

func TestParseAlertmanagerRaw(t *testing.T) {
	// Odd spacing and key order must survive: Raw is the element as sent.
	e0 := `{ "labels" : {"b":"2",  "alertname":"A"}, "annotations":{} }`
	e1 := "{\n\t\"startsAt\": \"2026-01-15T11:00:00Z\",\n\t\"labels\": {\"alertname\": \"B\"}\n}"
	body := []byte("[\n  " + e0 + " ,\n" + e1 + "\n]\n")
	got, err := ParseAlertmanager(body, now)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{e0, e1} {
		if string(got[i].Raw) != want {
			t.Errorf("[%d].Raw = %s, want %s", i, got[i].Raw, want)
		}
	}
	// Raw must not alias the caller's buffer, which a handler may reuse.
	copy(body, bytes.Repeat([]byte{' '}, len(body)))
	if string(got[0].Raw) != e0 {
		t.Error("Raw changed when the body buffer was overwritten")
	}
}

func TestAlertmanagerFingerprint(t *testing.T) {
	// Test vector of prometheus/common's LabelsToSignature, which
	// Alertmanager's fingerprint is.
	for _, tt := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{}, "cbf29ce484222325"},
		{map[string]string{"name": "garland, briggs", "fear": "love is not enough"}, "507a62d79ee76c9a"},
	} {
		if got := AlertmanagerFingerprint(tt.labels); got != tt.want {
			t.Errorf("AlertmanagerFingerprint(%v) = %s, want %s", tt.labels, got, tt.want)
		}
	}
}

func TestParseAlertmanagerSourceIDStable(t *testing.T) {
	id := func(elem string) string {
		t.Helper()
		got, err := ParseAlertmanager(amBody(elem), now)
		if err != nil {
			t.Fatal(err)
		}
		return got[0].SourceID
	}
	base := id(`{"labels":{"alertname":"X","instance":"a:1"},"annotations":{"summary":"one"},"startsAt":"2026-01-15T11:00:00Z"}`)
	for _, tt := range []struct {
		name, elem string
		same       bool
	}{
		{"re-send with other annotations and times", `{"labels":{"instance":"a:1","alertname":"X"},"annotations":{"summary":"two"},"endsAt":"2026-01-15T11:59:00Z"}`, true},
		{"an empty label is an absent label", `{"labels":{"alertname":"X","instance":"a:1","severity":""}}`, true},
		{"another label value", `{"labels":{"alertname":"X","instance":"a:2"}}`, false},
		{"an extra label", `{"labels":{"alertname":"X","instance":"a:1","severity":"low"}}`, false},
	} {
		if got := id(tt.elem); (got == base) != tt.same {
			t.Errorf("%s: SourceID %s vs %s, want same=%v", tt.name, got, base, tt.same)
		}
	}
}

func TestParseAlertmanagerErrors(t *testing.T) {
	ok := `{"labels":{"alertname":"OK"}}`
	for _, tt := range []struct {
		name  string
		body  string
		field string
		msg   string
	}{
		{"malformed JSON", `[{"labels":{"a":"b"}]`, "body", "line 1, column 21"},
		{"empty body", ``, "body", "is empty"},
		{"object instead of array", `{"labels":{"a":"b"}}`, "body", "must be a JSON array of alerts, not object"},
		{"string instead of array", `"x"`, "body", "must be a JSON array"},
		{"null body", `null`, "body", "must be a JSON array of alerts, not null"},
		{"element not an object", string(amBody(ok, `42`)), "[1]", "must be an alert object, not number"},
		{"null element", string(amBody(`null`)), "[0]", "must be an alert object, not null"},
		{"labels missing", string(amBody(ok, ok, `{"annotations":{"summary":"s"}}`)), "[2].labels", "is required"},
		{"labels null", string(amBody(`{"labels":null}`)), "[0].labels", "is required"},
		{"labels empty", string(amBody(`{"labels":{}}`)), "[0].labels", "at least one label pair required"},
		{"labels all empty-valued", string(amBody(`{"labels":{"a":""}}`)), "[0].labels", "at least one label pair required"},
		{"labels not an object", string(amBody(`{"labels":["a"]}`)), "[0].labels", "must be an object of strings"},
		{"label value not a string", string(amBody(`{"labels":{"alertname":"X","port":9100}}`)), "[0].labels", `value of "port" must be a string`},
		{"empty label name", string(amBody(`{"labels":{"alertname":"X","":"v"}}`)), "[0].labels", `invalid label name ""`},
		{"empty annotation name", string(amBody(`{"labels":{"alertname":"X"},"annotations":{"":"v"}}`)), "[0].annotations", `invalid annotation name ""`},
		{"annotation value not a string", string(amBody(`{"labels":{"alertname":"X"},"annotations":{"n":1}}`)), "[0].annotations", `value of "n" must be a string`},
		{"startsAt not RFC 3339", string(amBody(`{"labels":{"a":"b"},"startsAt":"2026-01-15 11:00:00"}`)), "[0].startsAt", "not an RFC 3339 date-time"},
		{"startsAt without zone", string(amBody(`{"labels":{"a":"b"},"startsAt":"2026-01-15T11:00:00"}`)), "[0].startsAt", "not an RFC 3339 date-time"},
		{"startsAt a number", string(amBody(`{"labels":{"a":"b"},"startsAt":1768474800}`)), "[0].startsAt", "must be an RFC 3339 date-time string"},
		{"endsAt invalid", string(amBody(ok, `{"labels":{"a":"b"},"endsAt":"soon"}`)), "[1].endsAt", `"soon" is not an RFC 3339 date-time`},
		{"endsAt before startsAt", string(amBody(`{"labels":{"a":"b"},"startsAt":"2026-01-15T11:00:00Z","endsAt":"2026-01-15T10:00:00Z"}`)), "[0].endsAt", "must not be before startsAt"},
		{"generatorURL not a string", string(amBody(`{"labels":{"a":"b"},"generatorURL":{}}`)), "[0].generatorURL", "must be a string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAlertmanager([]byte(tt.body), now)
			checkFieldError(t, err, tt.field, tt.msg)
		})
	}
}

func TestParseAlertmanagerPartial(t *testing.T) {
	// Alertmanager stores the valid alerts of a batch and reports the
	// invalid ones; the valid ones must come back, in order.
	body := amBody(
		`{"labels":{"alertname":"A"}}`,
		`{"labels":{}}`,
		`{"labels":{"alertname":"C"}}`,
		`{"labels":{"alertname":"D"},"startsAt":"bad"}`,
	)
	got, err := ParseAlertmanager(body, now)
	checkFieldError(t, err, "[1].labels", "at least one label pair required")
	var titles []string
	for _, a := range got {
		titles = append(titles, a.Title)
	}
	if strings.Join(titles, ",") != "A,C" {
		t.Errorf("valid alerts = %v, want [A C]", titles)
	}
}

func TestParseAlertmanagerEmptyArray(t *testing.T) {
	got, err := ParseAlertmanager([]byte(`[]`), now)
	if err != nil || len(got) != 0 {
		t.Errorf("ParseAlertmanager([]) = %v, %v; want no alerts and no error", got, err)
	}
}
