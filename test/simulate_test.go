package test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"
)

// simInfo is the JSON line `vigil simulate` prints.
type simInfo struct {
	Authority      string `json:"authority"`
	TenantID       string `json:"tenant_id"`
	ClientID       string `json:"client_id"`
	ClientSecret   string `json:"client_secret"`
	ARMURL         string `json:"arm_url"`
	GraphURL       string `json:"graph_url"`
	DevOpsURL      string `json:"devops_url"`
	SubscriptionID string `json:"subscription_id"`
	ResourceGroup  string `json:"resource_group"`
	Workspace      string `json:"workspace"`
	DevOpsOrg      string `json:"devops_org"`
	DevOpsProject  string `json:"devops_project"`
	CAFile         string `json:"ca_file"`
}

// TestSimulateWithMicrosoftSDKs is the simulator issue's acceptance test:
// a program that knows only Microsoft's SDKs and the printed JSON can
// authenticate, list and update incidents (409 on a stale etag), and
// dismiss a Defender for Cloud alert and see the Sentinel alert change
// while the incident does not.
func TestSimulateWithMicrosoftSDKs(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	cmd := exec.Command(vigilBin, "simulate", "--listen", freePort(t), "--ca-file", caFile, "--preload", "3")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
	}()
	var info simInfo
	select {
	case l := <-line:
		if err := json.Unmarshal([]byte(l), &info); err != nil {
			t.Fatalf("first line is not the info JSON: %q: %v", l, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("vigil simulate printed nothing")
	}
	var keys map[string]any
	json.Unmarshal([]byte(mustJSON(info)), &keys)
	if len(keys) != 13 || info.CAFile != caFile {
		t.Fatalf("info = %+v, want the 13 keys with ca_file %s", info, caFile)
	}

	// Only the printed JSON and Microsoft's SDKs from here on.
	pem, err := os.ReadFile(info.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	cfg := cloud.Configuration{
		ActiveDirectoryAuthorityHost: info.Authority,
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Audience: "https://management.azure.com", Endpoint: info.ARMURL},
		},
	}
	copts := azcore.ClientOptions{Cloud: cfg, Transport: httpClient}
	cred, err := azidentity.NewClientSecretCredential(info.TenantID, info.ClientID, info.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	incidents, err := armsecurityinsights.NewIncidentsClient(info.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: copts})
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := armsecurity.NewAlertsClient(info.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: copts})
	if err != nil {
		t.Fatal(err)
	}

	// List incidents: the three preloaded ones.
	var list []*armsecurityinsights.Incident
	pager := incidents.NewListPager(info.ResourceGroup, info.Workspace, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list incidents: %v", err)
		}
		list = append(list, page.Value...)
	}
	if len(list) != 3 {
		t.Fatalf("incidents = %d, want the 3 preloaded", len(list))
	}
	inc := list[0]
	name := *inc.Name

	// Update with the current etag, then with the now stale one: 409.
	inc.Properties.Severity = to.Ptr(armsecurityinsights.IncidentSeverityLow)
	updated, err := incidents.CreateOrUpdate(ctx, info.ResourceGroup, info.Workspace, name, *inc, nil)
	if err != nil {
		t.Fatalf("update with current etag: %v", err)
	}
	if *updated.Properties.Severity != armsecurityinsights.IncidentSeverityLow || *updated.Etag == *inc.Etag {
		t.Errorf("update answered severity %s etag %s", *updated.Properties.Severity, *updated.Etag)
	}
	_, err = incidents.CreateOrUpdate(ctx, info.ResourceGroup, info.Workspace, name, *inc, nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusConflict {
		t.Fatalf("update with stale etag: %v, want 409", err)
	}

	// Find the Defender alert behind the incident's Sentinel alert.
	incAlerts, err := incidents.ListAlerts(ctx, info.ResourceGroup, info.Workspace, name, nil)
	if err != nil || len(incAlerts.Value) != 1 {
		t.Fatalf("incident alerts: %v (%d)", err, len(incAlerts.Value))
	}
	sentinelAlert := incAlerts.Value[0].Properties
	var dfcName, location string
	dpager := alerts.NewListPager(nil)
	for dpager.More() {
		page, err := dpager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list defender alerts: %v", err)
		}
		for _, a := range page.Value {
			if *a.Name == *sentinelAlert.ProviderAlertID || *a.Properties.SystemAlertID == *sentinelAlert.ProviderAlertID {
				dfcName = *a.Name
				location = locationOf(*a.ID)
			}
		}
	}
	if dfcName == "" {
		t.Fatalf("no Defender alert matches the Sentinel alert's providerAlertId %s", *sentinelAlert.ProviderAlertID)
	}
	if _, err := alerts.UpdateSubscriptionLevelStateToDismiss(ctx, location, dfcName, nil); err != nil {
		t.Fatalf("dismiss: %v", err)
	}
	got, err := alerts.GetSubscriptionLevel(ctx, location, dfcName, nil)
	if err != nil || *got.Properties.Status != armsecurity.AlertStatusDismissed {
		t.Fatalf("defender alert after dismiss: %v %v", err, got.Properties)
	}
	incAlerts, err = incidents.ListAlerts(ctx, info.ResourceGroup, info.Workspace, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := *incAlerts.Value[0].Properties.Status; s != armsecurityinsights.AlertStatusDismissed {
		t.Errorf("Sentinel alert status after dismiss = %s, want Dismissed", s)
	}
	after, err := incidents.Get(ctx, info.ResourceGroup, info.Workspace, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := *after.Properties.Status; s != armsecurityinsights.IncidentStatusNew {
		t.Errorf("incident status after dismiss = %s, want New: Defender does not move the incident", s)
	}
}

// locationOf returns the region segment of a Defender alert's ARM id.
func locationOf(id string) string {
	_, rest, _ := strings.Cut(id, "/locations/")
	loc, _, _ := strings.Cut(rest, "/")
	return loc
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
