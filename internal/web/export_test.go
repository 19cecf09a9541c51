package web

import "net/http"

// RouteInfo is one entry of the route table, for the external tests.
type RouteInfo struct {
	Method, Path string
	// Auth is true when the route requires a Bearer token.
	Auth bool
}

// Routes returns the route table that New registers.
func Routes() []RouteInfo {
	var out []RouteInfo
	for _, rt := range (&Server{}).table(http.NotFoundHandler()) {
		out = append(out, RouteInfo{Method: rt.method, Path: rt.path, Auth: rt.action != ""})
	}
	return out
}

// OpenAPIJSON is the embedded OpenAPI document.
var OpenAPIJSON = openapiJSON
