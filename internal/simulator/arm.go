package simulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// apiVersions lists the api-versions each simulated ARM resource type
// accepts: the ones Microsoft's current Go SDKs send (armsecurityinsights
// v2 sends 2025-07-01-preview, armsecurity sends 2022-01-01 for alerts)
// and the latest stable ones.
var apiVersions = map[string][]string{
	"Microsoft.SecurityInsights": {"2025-07-01-preview", "2025-09-01", "2025-06-01", "2025-03-01", "2024-09-01", "2024-03-01"},
	"Microsoft.Security/alerts":  {"2022-01-01", "2021-01-01", "2020-01-01", "2019-01-01"},
}

func armErrorBody(code, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": msg}}
}

// checkAPIVersion refuses a missing or unknown api-version as ARM does.
func (s *Simulator) checkAPIVersion(w http.ResponseWriter, r *http.Request, resourceType string) bool {
	v := r.URL.Query().Get("api-version")
	if v == "" {
		writeJSON(w, http.StatusBadRequest, armErrorBody("MissingApiVersionParameter",
			"The api-version query parameter (?api-version=) is required for all requests."))
		return false
	}
	supported := apiVersions[resourceType]
	if !slices.Contains(supported, v) {
		provider, typ, _ := strings.Cut(resourceType, "/")
		if typ == "" {
			typ = "incidents"
		}
		writeJSON(w, http.StatusBadRequest, armErrorBody("NoRegisteredProviderFound", fmt.Sprintf(
			"No registered resource provider found for location 'westeurope' and API version '%s' for type '%s' of namespace '%s'. The supported api-versions are '%s'.",
			v, typ, provider, strings.Join(supported, ", "))))
		return false
	}
	return true
}

func armNotFound(w http.ResponseWriter, what string) {
	writeJSON(w, http.StatusNotFound, armErrorBody("NotFound", what+" not found"))
}

// armBadRequest answers a malformed body or parameter.
func armBadRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, armErrorBody("BadRequest", msg))
}
