package sentinel_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"

	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// TestSDKAloneStaysUnauthorized pins down why the connector renews its
// credential: with azidentity and azcore alone, once the service drops a
// token before its stated expiry, every later call is refused too, since
// MSAL's cache keeps handing out the dropped token. If this starts to
// pass, the SDK learnt to recover and renewingCredential can go.
func TestSDKAloneStaysUnauthorized(t *testing.T) {
	e := start(t)
	r := e.raise(t, nil)
	info := e.srv.Info
	opts := azcore.ClientOptions{Transport: e.srv.Client(), Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: info.Authority,
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Audience: "https://management.azure.com", Endpoint: info.ARMURL}}}}
	cred, err := azidentity.NewClientSecretCredential(info.TenantID, info.ClientID, info.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := armsecurityinsights.NewIncidentsClient(info.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	get := func() int {
		_, err := c.Get(ctx, info.ResourceGroup, info.Workspace, r.IncidentName, nil)
		var re *azcore.ResponseError
		if errors.As(err, &re) {
			return re.StatusCode
		}
		if err != nil {
			t.Fatal(err)
		}
		return http.StatusOK
	}
	if got := get(); got != http.StatusOK {
		t.Fatalf("first get: %d", got)
	}
	e.srv.Sim.ExpireTokens()
	for i := range 2 {
		if got := get(); got != http.StatusUnauthorized {
			t.Fatalf("get %d after the tokens expired: %d, want 401", i+1, got)
		}
	}
}

func TestExpiredTokensRecover(t *testing.T) {
	e := start(t)
	r := e.raise(t, nil)
	if _, err := e.c.Incident(ctx, r.IncidentName); err != nil {
		t.Fatal(err)
	}

	// A write that meets the refused token is left to the outbox...
	e.control(t, "/sim/v1/tokens/expire", nil)
	msg := outbox.Message{Target: "sentinel", Op: sentinel.OpActivate, Resource: e.incidentID(r.IncidentName), IdemKey: "k1"}
	err := e.c.Send(ctx, msg)
	var re *outbox.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("send with an expired token: %v, want a RetryableError", err)
	}
	// ...and its retry gets a fresh token.
	if err := e.c.Send(ctx, msg); err != nil {
		t.Fatalf("resend: %v", err)
	}
	if got := e.incident(t, r.IncidentName).Status; got != "Active" {
		t.Errorf("status = %s, want Active", got)
	}

	// A read retries in the SDK with a fresh token, so the caller sees
	// nothing.
	e.srv.Sim.ExpireTokens()
	t0 := time.Now()
	if _, err := e.c.IncidentsModifiedSince(ctx, time.Time{}); err != nil {
		t.Fatalf("read after the tokens expired: %v", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("read took %s", d)
	}
	if _, err := e.c.Incident(ctx, r.IncidentName); err != nil {
		t.Fatalf("next read: %v", err)
	}
}
