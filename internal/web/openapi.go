package web

import (
	_ "embed"
	"net/http"
)

// openapiJSON documents the API; TestOpenAPIMatchesRoutes keeps it in step
// with the route table.
//
//go:embed openapi.json
var openapiJSON []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiJSON)
}
