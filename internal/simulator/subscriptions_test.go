package simulator_test

import (
	"testing"

	"github.com/vigil-soc/vigil/internal/simulator"
)

func TestSubscriptionsAndTenants(t *testing.T) {
	srv := start(t, simulator.Options{})
	cred := credential(t, srv, srv.Info.ClientSecret)
	sub := srv.Info.SubscriptionID
	tests := []struct {
		name, path string
		status     int
		check      func(t *testing.T, body map[string]any)
	}{
		{"list", "/subscriptions?api-version=2022-12-01", 200, func(t *testing.T, b map[string]any) {
			v := b["value"].([]any)
			if len(v) != 1 || v[0].(map[string]any)["subscriptionId"] != sub || v[0].(map[string]any)["state"] != "Enabled" {
				t.Errorf("value = %v", v)
			}
		}},
		{"get", "/subscriptions/" + sub + "?api-version=2022-12-01", 200, func(t *testing.T, b map[string]any) {
			if b["id"] != "/subscriptions/"+sub || b["tenantId"] != srv.Info.TenantID {
				t.Errorf("body = %v", b)
			}
		}},
		{"unknown subscription", "/subscriptions/00000000-0000-0000-0000-000000000000?api-version=2022-12-01", 404, func(t *testing.T, b map[string]any) {
			if b["error"].(map[string]any)["code"] != "SubscriptionNotFound" {
				t.Errorf("body = %v", b)
			}
		}},
		{"tenants", "/tenants?api-version=2022-12-01", 200, func(t *testing.T, b map[string]any) {
			v := b["value"].([]any)
			if len(v) != 1 || v[0].(map[string]any)["tenantId"] != srv.Info.TenantID {
				t.Errorf("value = %v", v)
			}
		}},
		{"missing api-version", "/subscriptions", 400, func(t *testing.T, b map[string]any) {
			if b["error"].(map[string]any)["code"] != "MissingApiVersionParameter" {
				t.Errorf("body = %v", b)
			}
		}},
		{"unknown api-version", "/tenants?api-version=1999-01-01", 400, func(t *testing.T, b map[string]any) {
			if b["error"].(map[string]any)["code"] != "NoRegisteredProviderFound" {
				t.Errorf("body = %v", b)
			}
		}},
		// The existing Defender alerts route under a subscription still
		// wins over GET /subscriptions/{id}.
		{"defender alerts", "/subscriptions/" + sub + "/providers/Microsoft.Security/alerts?api-version=2022-01-01", 200, func(t *testing.T, b map[string]any) {
			if _, ok := b["value"]; !ok {
				t.Errorf("body = %v", b)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := armGet(t, srv, cred, tc.path)
			if status != tc.status {
				t.Fatalf("status = %d, want %d; body %v", status, tc.status, body)
			}
			tc.check(t, body)
		})
	}
}
