package graph_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/graph"
)

// fixture decodes testdata/name (Microsoft's example payloads, copied
// from ../shared/fixtures/microsoft/graph) as a collection.
func fixture[T any](t *testing.T, name string) []T {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	out := make([]T, len(page.Value))
	for i, raw := range page.Value {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			t.Fatalf("%s item %d: %v", name, i, err)
		}
	}
	return out
}

func TestMapFixture(t *testing.T) {
	as := fixture[graph.AlertV2](t, "alerts_v2_list.json")
	if len(as) != 1 {
		t.Fatalf("%d alerts in the fixture, want 1", len(as))
	}
	got, err := graph.Map(as[0])
	if err != nil {
		t.Fatal(err)
	}
	want := alert.Alert{
		Source: "graph", SourceID: "da637551227677560813_-961444813", Product: "Microsoft Defender for Endpoint",
		Title: "Suspicious execution of hidden file", Description: as[0].Description,
		Severity: alert.SeverityLow, Status: alert.StatusNew,
		Entities: []alert.Entity{
			{Kind: alert.EntityHost, Value: "tempDns"},
			// fileEvidence and the process's image are the same file:
			// each hash once.
			{Kind: alert.EntityFileHash, Value: "8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec", Attrs: map[string]string{"algorithm": "SHA256"}},
			{Kind: alert.EntityFileHash, Value: "5f1e8acedc065031aad553b710838eb366cfee9a", Attrs: map[string]string{"algorithm": "SHA1"}},
		},
		FirstSeen: time.Date(2021, 4, 26, 7, 45, 50, 116e6, time.UTC),
		LastSeen:  time.Date(2021, 5, 2, 14, 19, 1, 326666700, time.UTC),
	}
	got.Raw = nil // the fixture was decoded without it; Map marshalled the struct
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Map(fixture)\n got  %+v\n want %+v", got, want)
	}
	if err := got.Normalize(time.Now()); err != nil {
		t.Errorf("Normalize: %v", err)
	}
}

func TestMapLegacyFixture(t *testing.T) {
	// The docs' example is a template ("datetime-value", no id): it
	// decodes, but cannot become an alert.
	as := fixture[graph.LegacyAlert](t, "legacy_alerts_list.json")
	if len(as) != 1 || as[0].AssignedTo != "assignedTo-value" || !as[0].ClosedDateTime.IsZero() {
		t.Fatalf("decoded %+v", as)
	}
	if _, err := graph.MapLegacy(as[0]); err == nil {
		t.Error("MapLegacy accepted an alert without id")
	}
}

func TestMap(t *testing.T) {
	created := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	base := func(edit func(*graph.AlertV2)) graph.AlertV2 {
		a := graph.AlertV2{ID: "da1", Title: "t", Status: "new", Severity: "high", ServiceSource: "microsoftDefenderForCloud",
			CreatedDateTime: created, FirstActivityDateTime: created.Add(-time.Hour), LastActivityDateTime: created,
			LastUpdateDateTime: created.Add(time.Hour)}
		if edit != nil {
			edit(&a)
		}
		return a
	}
	ev := func(typ string, edit func(*graph.Evidence)) graph.Evidence {
		e := graph.Evidence{Type: "#microsoft.graph.security." + typ}
		edit(&e)
		return e
	}
	for _, tc := range []struct {
		name  string
		in    graph.AlertV2
		check func(t *testing.T, a alert.Alert)
	}{
		{"defaults", base(nil), func(t *testing.T, a alert.Alert) {
			if a.Source != "graph" || a.SourceID != "da1" || a.Product != "Microsoft Defender for Cloud" || a.Severity != alert.SeverityHigh ||
				a.Status != alert.StatusNew || !a.FirstSeen.Equal(created.Add(-time.Hour)) || !a.LastSeen.Equal(created.Add(time.Hour)) || len(a.Raw) == 0 {
				t.Errorf("got %+v", a)
			}
		}},
		{"productName wins", base(func(a *graph.AlertV2) { a.ProductName = "Microsoft Defender for Servers" }), wantProduct("Microsoft Defender for Servers")},
		{"unknown service source kept", base(func(a *graph.AlertV2) { a.ServiceSource = "microsoftFutureThing" }), wantProduct("microsoftFutureThing")},
		{"in progress", base(func(a *graph.AlertV2) { a.Status = "inProgress" }), wantStatus(alert.StatusInProgress)},
		{"resolved", base(func(a *graph.AlertV2) { a.Status = "resolved" }), wantStatus(alert.StatusResolved)},
		{"resolved true positive", base(func(a *graph.AlertV2) { a.Status, a.Classification = "resolved", "truePositive" }), wantStatus(alert.StatusResolved)},
		{"resolved false positive", base(func(a *graph.AlertV2) { a.Status, a.Classification = "resolved", "falsePositive" }), wantStatus(alert.StatusDismissed)},
		{"resolved benign", base(func(a *graph.AlertV2) { a.Status, a.Classification = "resolved", "informationalExpectedActivity" }), wantStatus(alert.StatusDismissed)},
		{"open false positive stays open", base(func(a *graph.AlertV2) { a.Status, a.Classification = "inProgress", "falsePositive" }), wantStatus(alert.StatusInProgress)},
		{"unknown status", base(func(a *graph.AlertV2) { a.Status = "unknownFutureValue" }), wantStatus(alert.StatusNew)},
		{"unknown severity", base(func(a *graph.AlertV2) { a.Severity = "unknown" }), wantSeverity(alert.SeverityMedium)},
		{"informational", base(func(a *graph.AlertV2) { a.Severity = "informational" }), wantSeverity(alert.SeverityInformational)},
		{"no activity times", base(func(a *graph.AlertV2) {
			a.FirstActivityDateTime, a.LastActivityDateTime, a.LastUpdateDateTime = time.Time{}, time.Time{}, time.Time{}
		}), func(t *testing.T, a alert.Alert) {
			if !a.FirstSeen.Equal(created) || !a.LastSeen.Equal(created) {
				t.Errorf("seen %s – %s, want created twice", a.FirstSeen, a.LastSeen)
			}
		}},
		{"evidence", base(func(a *graph.AlertV2) {
			a.Evidence = []graph.Evidence{
				ev("ipEvidence", func(e *graph.Evidence) { e.IPAddress = "203.0.113.7" }),
				ev("deviceEvidence", func(e *graph.Evidence) { e.DeviceDNSName = "vm-web-01.contoso.com" }),
				ev("userEvidence", func(e *graph.Evidence) {
					e.UserAccount = &graph.UserAccount{AccountName: "alice", DomainName: "contoso.com", UserPrincipalName: "alice@contoso.com", UserSID: "S-1-5-21-1"}
				}),
				ev("userEvidence", func(e *graph.Evidence) { e.UserAccount = &graph.UserAccount{AccountName: "svc", DomainName: "CONTOSO"} }),
				ev("urlEvidence", func(e *graph.Evidence) { e.URL = "https://evil.example/x" }),
				ev("fileEvidence", func(e *graph.Evidence) { e.FileDetails = &graph.FileDetails{SHA256: "ab"} }),
				ev("azureResourceEvidence", func(e *graph.Evidence) { e.ResourceID = "/subscriptions/S/resourceGroups/RG" }),
				// The process's account is SYSTEM: not an entity.
				ev("processEvidence", func(e *graph.Evidence) { e.UserAccount = &graph.UserAccount{AccountName: "SYSTEM"} }),
				ev("registryKeyEvidence", func(e *graph.Evidence) {}),
				ev("ipEvidence", func(e *graph.Evidence) { e.IPAddress = "203.0.113.7" }),
			}
		}), func(t *testing.T, a alert.Alert) {
			want := []alert.Entity{
				{Kind: alert.EntityIP, Value: "203.0.113.7"},
				{Kind: alert.EntityHost, Value: "vm-web-01.contoso.com"},
				{Kind: alert.EntityAccount, Value: "alice@contoso.com", Attrs: map[string]string{"upn": "alice@contoso.com", "sid": "S-1-5-21-1"}},
				{Kind: alert.EntityAccount, Value: `CONTOSO\svc`},
				{Kind: alert.EntityURL, Value: "https://evil.example/x"},
				{Kind: alert.EntityFileHash, Value: "ab", Attrs: map[string]string{"algorithm": "SHA256"}},
				{Kind: alert.EntityCloudResource, Value: "/subscriptions/s/resourcegroups/rg"},
			}
			if !reflect.DeepEqual(a.Entities, want) {
				t.Errorf("entities\n got  %v\n want %v", a.Entities, want)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := graph.Map(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
	if _, err := graph.Map(graph.AlertV2{Title: "no id"}); err == nil {
		t.Error("Map accepted an alert without id")
	}
}

func TestMapLegacy(t *testing.T) {
	ts := func(s string) graph.Timestamp {
		var t graph.Timestamp
		t.UnmarshalJSON([]byte(`"` + s + `"`))
		return t
	}
	raw := []byte(`{"id":"2518","title":"Suspicious PowerShell","severity":"high","status":"newAlert",
		"createdDateTime":"2025-03-01T09:00:00.1234567Z","eventDateTime":"2025-03-01T08:30:00",
		"lastModifiedDateTime":"2025-03-01T09:15:00Z","vendorInformation":{"provider":"ASC","vendor":"Microsoft"},
		"hostStates":[{"fqdn":"vm-web-01","privateIpAddress":"10.0.0.4"}],
		"userStates":[{"accountName":"alice","domainName":"contoso.com","userPrincipalName":"alice@contoso.com"}],
		"networkConnections":[{"sourceAddress":"203.0.113.7","destinationUrl":"https://evil.example/"}],
		"fileStates":[{"name":"x.exe","fileHash":{"hashType":"sha1","hashValue":"5f1e8acedc065031aad553b710838eb366cfee9a"}}],
		"securityResources":[{"resource":"/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm-web-01","resourceType":"attacked"}]}`)
	var full graph.LegacyAlert
	if err := json.Unmarshal(raw, &full); err != nil {
		t.Fatal(err)
	}
	with := func(edit func(*graph.LegacyAlert)) graph.LegacyAlert {
		a := full
		edit(&a)
		return a
	}
	for _, tc := range []struct {
		name  string
		in    graph.LegacyAlert
		check func(t *testing.T, a alert.Alert)
	}{
		{"defender for cloud", full, func(t *testing.T, a alert.Alert) {
			want := alert.Alert{Source: "graph", SourceID: "2518", Product: "Microsoft Defender for Cloud", Title: "Suspicious PowerShell",
				Severity: alert.SeverityHigh, Status: alert.StatusNew,
				Entities: []alert.Entity{
					{Kind: alert.EntityHost, Value: "vm-web-01"}, {Kind: alert.EntityIP, Value: "10.0.0.4"},
					{Kind: alert.EntityAccount, Value: "alice@contoso.com", Attrs: map[string]string{"upn": "alice@contoso.com"}},
					{Kind: alert.EntityIP, Value: "203.0.113.7"}, {Kind: alert.EntityURL, Value: "https://evil.example/"},
					{Kind: alert.EntityFileHash, Value: "5f1e8acedc065031aad553b710838eb366cfee9a", Attrs: map[string]string{"algorithm": "SHA1"}},
					{Kind: alert.EntityCloudResource, Value: "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm-web-01"},
				},
				// eventDateTime has no zone: read as UTC.
				FirstSeen: time.Date(2025, 3, 1, 8, 30, 0, 0, time.UTC), LastSeen: time.Date(2025, 3, 1, 9, 15, 0, 0, time.UTC),
				Raw: a.Raw,
			}
			if len(a.Raw) == 0 || !reflect.DeepEqual(a, want) {
				t.Errorf("got  %+v\nwant %+v", a, want)
			}
		}},
		{"another provider", with(func(a *graph.LegacyAlert) { a.VendorInformation.Provider = "Microsoft Defender ATP" }),
			wantProduct("Microsoft Defender for Endpoint")},
		{"unknown provider kept", with(func(a *graph.LegacyAlert) { a.VendorInformation.Provider = "Contoso EDR" }), wantProduct("Contoso EDR")},
		{"in progress", with(func(a *graph.LegacyAlert) { a.Status = "inProgress" }), wantStatus(alert.StatusInProgress)},
		{"resolved", with(func(a *graph.LegacyAlert) { a.Status = "resolved" }), wantStatus(alert.StatusResolved)},
		{"resolved true positive", with(func(a *graph.LegacyAlert) { a.Status, a.Feedback = "resolved", "truePositive" }), wantStatus(alert.StatusResolved)},
		{"resolved benign", with(func(a *graph.LegacyAlert) { a.Status, a.Feedback = "resolved", "benignPositive" }), wantStatus(alert.StatusDismissed)},
		{"resolved false positive", with(func(a *graph.LegacyAlert) { a.Status, a.Feedback = "resolved", "falsePositive" }), wantStatus(alert.StatusDismissed)},
		{"unknown status", with(func(a *graph.LegacyAlert) { a.Status = "unknown" }), wantStatus(alert.StatusNew)},
		{"unknown severity", with(func(a *graph.LegacyAlert) { a.Severity = "unknown" }), wantSeverity(alert.SeverityMedium)},
		{"closed after last modified", with(func(a *graph.LegacyAlert) {
			a.EventDateTime, a.LastModifiedDateTime = graph.Timestamp{}, graph.Timestamp{}
			a.ClosedDateTime = ts("2025-03-01T11:00:00Z")
		}), func(t *testing.T, a alert.Alert) {
			if !a.FirstSeen.Equal(time.Date(2025, 3, 1, 9, 0, 0, 123456700, time.UTC)) || !a.LastSeen.Equal(time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)) {
				t.Errorf("seen %s – %s, want created – closed", a.FirstSeen, a.LastSeen)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := graph.MapLegacy(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
}

func TestTimestamp(t *testing.T) {
	for in, want := range map[string]time.Time{
		`"2025-03-01T09:00:00.1234567Z"`: time.Date(2025, 3, 1, 9, 0, 0, 123456700, time.UTC),
		`"2025-03-01T10:00:00+01:00"`:    time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC),
		`"2025-03-01T09:00:00"`:          time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC),
		`"datetime-value"`:               {},
		`null`:                           {},
		`42`:                             {},
	} {
		var got graph.Timestamp
		if err := got.UnmarshalJSON([]byte(in)); err != nil || !got.Equal(want) {
			t.Errorf("UnmarshalJSON(%s) = %s, %v; want %s", in, got.Time, err, want)
		}
	}
}

func wantStatus(s alert.Status) func(*testing.T, alert.Alert) {
	return func(t *testing.T, a alert.Alert) {
		t.Helper()
		if a.Status != s {
			t.Errorf("status = %s, want %s", a.Status, s)
		}
	}
}

func wantSeverity(s alert.Severity) func(*testing.T, alert.Alert) {
	return func(t *testing.T, a alert.Alert) {
		t.Helper()
		if a.Severity != s {
			t.Errorf("severity = %s, want %s", a.Severity, s)
		}
	}
}

func wantProduct(p string) func(*testing.T, alert.Alert) {
	return func(t *testing.T, a alert.Alert) {
		t.Helper()
		if a.Product != p {
			t.Errorf("product = %q, want %q", a.Product, p)
		}
	}
}
