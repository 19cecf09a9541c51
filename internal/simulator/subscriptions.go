package simulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// The subscriptions and tenants routes are what `az login` and
// `az account list` read after the token: Azure CLI lists the tenants the
// identity can reach, then each tenant's subscriptions, and refuses to log
// in when none is found. Shapes follow Microsoft Learn's REST reference:
//   - https://learn.microsoft.com/en-us/rest/api/resources/subscriptions/list
//   - https://learn.microsoft.com/en-us/rest/api/resources/subscriptions/get
//   - https://learn.microsoft.com/en-us/rest/api/resources/tenants/list
//
// The simulated tenant has exactly one subscription (Options.SubscriptionID);
// the lists fit in one page, so they carry no nextLink.

const (
	armSubscriptions = "Microsoft.Resources/subscriptions"
	armTenants       = "Microsoft.Resources/tenants"
)

func init() {
	// The api-versions of Microsoft.Resources' subscriptions and tenants
	// operations: azure-mgmt-resource's SubscriptionClient (Azure CLI
	// 2.45) sends 2022-12-01; older SDKs send the others.
	v := []string{"2022-12-01", "2021-01-01", "2020-01-01", "2019-11-01", "2019-06-01", "2016-06-01"}
	apiVersions[armSubscriptions] = v
	apiVersions[armTenants] = v
}

// identityRoutes registers the routes of Azure CLI and of the credentials
// beyond the client secret: subscriptions and tenants (this file), managed
// identity (managedidentity.go) and certificates and federated
// credentials (clientcert.go).
func (s *Simulator) identityRoutes() {
	s.handle("GET /subscriptions", "arm.subscriptions.list", audARM, func(w http.ResponseWriter, r *http.Request) {
		if !s.checkAPIVersion(w, r, armSubscriptions) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": []any{s.subscription()}})
	})
	s.handle("GET /subscriptions/{subscriptionId}", "arm.subscriptions.get", audARM, func(w http.ResponseWriter, r *http.Request) {
		if !s.checkAPIVersion(w, r, armSubscriptions) {
			return
		}
		if !strings.EqualFold(r.PathValue("subscriptionId"), s.opt.SubscriptionID) {
			// ARM's answer for a subscription that does not exist or
			// that the caller cannot see.
			writeJSON(w, http.StatusNotFound, armErrorBody("SubscriptionNotFound",
				"The subscription '"+r.PathValue("subscriptionId")+"' could not be found."))
			return
		}
		writeJSON(w, http.StatusOK, s.subscription())
	})
	s.handle("GET /tenants", "arm.tenants.list", audARM, func(w http.ResponseWriter, r *http.Request) {
		if !s.checkAPIVersion(w, r, armTenants) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": []any{map[string]any{
			"id":                    "/tenants/" + s.opt.TenantID,
			"tenantId":              s.opt.TenantID,
			"tenantCategory":        "Home",
			"country":               "United States",
			"countryCode":           "US",
			"displayName":           "Contoso",
			"domains":               []string{"contoso.onmicrosoft.com", "contoso.com"},
			"defaultDomain":         "contoso.onmicrosoft.com",
			"tenantType":            "AAD",
			"tenantBrandingLogoUrl": nil,
		}}})
	})
	s.managedIdentityRoutes()
	s.clientCertRoutes()
}

// subscription is the simulated subscription in Subscriptions - Get's shape.
func (s *Simulator) subscription() map[string]any {
	return map[string]any{
		"id":             "/subscriptions/" + s.opt.SubscriptionID,
		"subscriptionId": s.opt.SubscriptionID,
		"tenantId":       s.opt.TenantID,
		"displayName":    "Contoso SOC",
		"state":          "Enabled",
		"subscriptionPolicies": map[string]any{
			"locationPlacementId": "Public_2014-09-01",
			"quotaId":             "EnterpriseAgreement_2014-09-01",
			"spendingLimit":       "Off",
		},
		"authorizationSource": "RoleBased",
		"managedByTenants":    []any{},
		"tags":                map[string]string{},
	}
}

// AzureCLICloudConfig is the JSON for `az cloud register --cloud-config`
// that points Azure CLI at a simulator served at base ("https://host:port").
// The resource ids stay Azure's public ones, because the simulator issues
// tokens by them; only the endpoints move.
// https://learn.microsoft.com/en-us/cli/azure/manage-clouds-azure-cli
func AzureCLICloudConfig(base string) string {
	base = strings.TrimSuffix(base, "/")
	b, _ := json.MarshalIndent(map[string]any{
		"endpoints": map[string]string{
			"activeDirectory":                base,
			"activeDirectoryResourceId":      "https://management.core.windows.net/",
			"activeDirectoryGraphResourceId": "https://graph.windows.net/",
			"management":                     "https://management.core.windows.net/",
			"resourceManager":                base + "/",
			"microsoftGraphResourceId":       "https://graph.microsoft.com/",
			"logAnalyticsResourceId":         "https://api.loganalytics.io",
		},
		"suffixes": map[string]string{
			"storageEndpoint": "core.windows.net",
			"keyvaultDns":     ".vault.azure.net",
		},
	}, "", "  ")
	return string(b)
}

// discoveryTenant is the tenant of the authority MSAL asks instance
// discovery about: MSAL Python sends
// authorization_endpoint=https://<host>/<tenant>/oauth2/v2.0/authorize and
// Entra ID answers with that tenant's tenant_discovery_endpoint. An
// unknown or missing one falls back to the simulated tenant.
func (s *Simulator) discoveryTenant(r *http.Request) string {
	if u, err := url.Parse(r.URL.Query().Get("authorization_endpoint")); err == nil {
		if tenant, _, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/"); ok && s.knownTenant(tenant) {
			return tenant
		}
	}
	return s.opt.TenantID
}
