package graph_test

import (
	"testing"

	"github.com/vigil-soc/vigil/internal/connector/graph"
)

func TestDefenderAlertName(t *testing.T) {
	const name = "2518298467986649999_4d25bfef-2d77-4a08-adc0-3e35715cc92a"
	for _, tc := range []struct {
		what string
		a    graph.AlertV2
		want string
	}{
		{"Defender for Cloud", graph.AlertV2{ID: "dc1", ServiceSource: "microsoftDefenderForCloud", ProviderAlertID: name}, name},
		{"another product", graph.AlertV2{ID: "da1", ServiceSource: "microsoftDefenderForEndpoint", ProviderAlertID: "da637551227677560813_-961444813"}, ""},
	} {
		if got := graph.DefenderAlertName(tc.a); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.what, got, tc.want)
		}
	}
	legacy := func(provider, id string, links ...string) graph.LegacyAlert {
		a := graph.LegacyAlert{ID: id, SourceMaterials: links}
		a.VendorInformation.Provider = provider
		return a
	}
	for _, tc := range []struct {
		what string
		a    graph.LegacyAlert
		want string
	}{
		{"ASC, by id", legacy("ASC", name), name},
		{"ASC, by its portal link", legacy("ASC", "other-id",
			"https://portal.azure.com/#blade/Microsoft_Azure_Security/AlertBlade/alertId/"+name+"/subscriptionId/20ff7fc3/referencedFrom/alertDeepLink/location/westeurope"), name},
		{"ASC, a link without the alert", legacy("asc", name, "https://security.microsoft.com/alerts/dc1"), name},
		{"another provider", legacy("Microsoft Defender ATP", "da1"), ""},
	} {
		if got := graph.LegacyDefenderAlertName(tc.a); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.what, got, tc.want)
		}
	}
}
