package sentinel_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
)

// fixture decodes the 200 body of an official example in testdata/.
func fixture[T any](t *testing.T, name string) T {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Responses struct {
			OK struct {
				Body T `json:"body"`
			} `json:"200"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(b, &ex); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ex.Responses.OK.Body
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestMapFixtures(t *testing.T) {
	inc := fixture[armsecurityinsights.Incident](t, "incident_get.json")
	list := fixture[armsecurityinsights.IncidentAlertList](t, "incident_alerts_list.json")
	got, alerts, err := sentinel.Map(&inc, list.Value)
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != "sentinel" || got.SourceID != "73e01a99-5cd7-4139-a149-9f2736ff2ab5" || got.Title != "My incident" ||
		got.Description != "This is a demo incident" || got.Severity != alert.SeverityHigh {
		t.Errorf("incident = %+v", got)
	}
	// Closed as FalsePositive: nothing was wrong, so dismissed.
	if got.Status != alert.StatusDismissed {
		t.Errorf("status = %s, want dismissed", got.Status)
	}
	if !got.FirstSeen.Equal(date("2019-01-01T13:00:30Z")) || !got.LastSeen.Equal(date("2019-01-01T13:05:30Z")) {
		t.Errorf("seen %s – %s, want the activity times", got.FirstSeen, got.LastSeen)
	}
	var raw map[string]any
	if err := json.Unmarshal(got.Raw, &raw); err != nil || raw["name"] != "73e01a99-5cd7-4139-a149-9f2736ff2ab5" || raw["etag"] != `"0300bf09-0000-0000-0000-5c37296e0000"` {
		t.Errorf("raw = %s (%v)", got.Raw, err)
	}

	// The example's alert names Azure Security Center but has no
	// providerAlertId: with nothing to tie it to a Defender alert, it is
	// Sentinel's own.
	const alertName = "baa8a239-6fde-4ab7-a093-d09f7b75c58c"
	if want := []alert.Member{{Source: "sentinel", SourceID: alertName, Status: alert.StatusNew}}; !slices.Equal(got.Members, want) {
		t.Errorf("members = %+v, want %+v", got.Members, want)
	}
	if len(alerts) != 1 {
		t.Fatalf("alerts = %d, want 1", len(alerts))
	}
	a := alerts[0]
	at := date("2020-07-20T18:21:53.6158361Z")
	if a.Source != "sentinel" || a.SourceID != alertName || a.Product != "Azure Security Center" || a.Title != "myAlert" ||
		a.Severity != alert.SeverityLow || a.Status != alert.StatusNew || !a.FirstSeen.Equal(at) || !a.LastSeen.Equal(at) || len(a.Raw) == 0 {
		t.Errorf("alert = %+v", a)
	}

	want := sentinel.Snapshot{
		Name: "73e01a99-5cd7-4139-a149-9f2736ff2ab5", ARMID: *inc.ID, Number: 3177, Status: "Closed",
		Classification: "FalsePositive", ClassificationReason: "InaccurateData", ClassificationComment: "Not a malicious activity",
		OwnerEmail: "john.doe@contoso.com", OwnerObjectID: "2046feea-040d-4a46-9e2b-91c2941bfa70",
		ETag: `"0300bf09-0000-0000-0000-5c37296e0000"`, LastModified: date("2019-01-01T13:15:30Z"), Created: date("2019-01-01T13:15:30Z"),
	}
	if s := sentinel.Describe(&inc); s != want {
		t.Errorf("Describe = %+v\nwant       %+v", s, want)
	}
}

func incident(status armsecurityinsights.IncidentStatus, class armsecurityinsights.IncidentClassification, sev armsecurityinsights.IncidentSeverity) *armsecurityinsights.Incident {
	p := &armsecurityinsights.IncidentProperties{Title: to.Ptr("t"), Status: to.Ptr(status), Severity: to.Ptr(sev)}
	if class != "" {
		p.Classification = to.Ptr(class)
	}
	return &armsecurityinsights.Incident{Name: to.Ptr("n"), Properties: p}
}

func TestMapIncidentStatusAndSeverity(t *testing.T) {
	tests := []struct {
		status armsecurityinsights.IncidentStatus
		class  armsecurityinsights.IncidentClassification
		sev    armsecurityinsights.IncidentSeverity
		want   alert.Status
		wantSv alert.Severity
	}{
		{"New", "", "High", alert.StatusNew, alert.SeverityHigh},
		{"Active", "", "Medium", alert.StatusInProgress, alert.SeverityMedium},
		{"Closed", "TruePositive", "Low", alert.StatusResolved, alert.SeverityLow},
		{"Closed", "Undetermined", "Informational", alert.StatusResolved, alert.SeverityInformational},
		{"Closed", "FalsePositive", "High", alert.StatusDismissed, alert.SeverityHigh},
		{"Closed", "BenignPositive", "High", alert.StatusDismissed, alert.SeverityHigh},
		{"closed", "benignPositive", "high", alert.StatusDismissed, alert.SeverityHigh},
		{"Closed", "", "Unheard", alert.StatusResolved, alert.SeverityMedium},
	}
	for _, tt := range tests {
		got, _, err := sentinel.Map(incident(tt.status, tt.class, tt.sev), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != tt.want || got.Severity != tt.wantSv {
			t.Errorf("Map(%s %s %s) = %s %s, want %s %s", tt.status, tt.class, tt.sev, got.Status, got.Severity, tt.want, tt.wantSv)
		}
	}
}

func TestMapTimesFallBack(t *testing.T) {
	created, modified := date("2024-05-01T10:00:00Z"), date("2024-05-01T11:00:00Z")
	inc := incident("New", "", "High")
	inc.Properties.CreatedTimeUTC, inc.Properties.LastModifiedTimeUTC = &created, &modified
	got, _, err := sentinel.Map(inc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.FirstSeen.Equal(created) || !got.LastSeen.Equal(modified) {
		t.Errorf("seen %s – %s, want created – last modified", got.FirstSeen, got.LastSeen)
	}
}

func TestMapMembers(t *testing.T) {
	sa := func(name, product, provider, status string) *armsecurityinsights.SecurityAlert {
		p := &armsecurityinsights.SecurityAlertProperties{ProductName: to.Ptr(product), AlertDisplayName: to.Ptr("a " + name),
			Status: to.Ptr(armsecurityinsights.AlertStatus(status)), Severity: to.Ptr(armsecurityinsights.AlertSeverityMedium)}
		if provider != "" {
			p.ProviderAlertID = to.Ptr(provider)
		}
		return &armsecurityinsights.SecurityAlert{Name: to.Ptr(name), Kind: to.Ptr(armsecurityinsights.EntityKindEnumSecurityAlert), Properties: p}
	}
	tests := []struct {
		name        string
		alerts      []*armsecurityinsights.SecurityAlert
		wantMembers []alert.Member
		wantAlerts  []string
	}{
		{"alerts not read: members left alone", nil, nil, nil},
		{"no alerts", []*armsecurityinsights.SecurityAlert{}, []alert.Member{}, nil},
		{"Defender for Cloud, old name", []*armsecurityinsights.SecurityAlert{sa("s1", "Azure Security Center", "2517", "InProgress")},
			[]alert.Member{{Source: "defender", SourceID: "2517", Status: alert.StatusInProgress}}, nil},
		{"Defender for Cloud, new name", []*armsecurityinsights.SecurityAlert{sa("s1", "Microsoft Defender for Cloud", "2517", "Resolved")},
			[]alert.Member{{Source: "defender", SourceID: "2517", Status: alert.StatusResolved}}, nil},
		{"another product with a provider id stays Sentinel's", []*armsecurityinsights.SecurityAlert{sa("s1", "Microsoft Defender for Endpoint", "da63", "New")},
			[]alert.Member{{Source: "sentinel", SourceID: "s1", Status: alert.StatusNew}}, []string{"s1"}},
		{"mixed", []*armsecurityinsights.SecurityAlert{
			sa("s1", "Azure Sentinel", "", "Dismissed"), sa("s2", "Azure Security Center", "2517", "New"), sa("s3", "Azure Sentinel", "", "Weird")},
			[]alert.Member{{Source: "sentinel", SourceID: "s1", Status: alert.StatusDismissed}, {Source: "defender", SourceID: "2517", Status: alert.StatusNew},
				{Source: "sentinel", SourceID: "s3"}},
			[]string{"s1", "s3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, own, err := sentinel.Map(incident("New", "", "High"), tt.alerts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Members, tt.wantMembers) || (got.Members == nil) != (tt.wantMembers == nil) {
				t.Errorf("members = %#v, want %#v", got.Members, tt.wantMembers)
			}
			var ids []string
			for _, a := range own {
				ids = append(ids, a.SourceID)
				if a.Source != "sentinel" || a.Title != "a "+a.SourceID {
					t.Errorf("alert = %+v", a)
				}
			}
			if !slices.Equal(ids, tt.wantAlerts) {
				t.Errorf("alerts = %v, want %v", ids, tt.wantAlerts)
			}
		})
	}
}

func TestMapRejectsMalformed(t *testing.T) {
	tests := []struct {
		name   string
		inc    *armsecurityinsights.Incident
		alerts []*armsecurityinsights.SecurityAlert
	}{
		{"nil", nil, nil},
		{"no name", &armsecurityinsights.Incident{Properties: &armsecurityinsights.IncidentProperties{}}, nil},
		{"no properties", &armsecurityinsights.Incident{Name: to.Ptr("n")}, nil},
		{"alert without name", incident("New", "", "High"), []*armsecurityinsights.SecurityAlert{{}}},
	}
	for _, tt := range tests {
		if _, _, err := sentinel.Map(tt.inc, tt.alerts); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestDescribeNil(t *testing.T) {
	if s := sentinel.Describe(nil); s != (sentinel.Snapshot{}) {
		t.Errorf("Describe(nil) = %+v", s)
	}
	if s := sentinel.Describe(&armsecurityinsights.Incident{Name: to.Ptr("n")}); s != (sentinel.Snapshot{Name: "n"}) {
		t.Errorf("Describe(no properties) = %+v", s)
	}
}
