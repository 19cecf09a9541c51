package ui

import "net/http"

// Mux is where the UI registers its routes: an *http.ServeMux, or the API
// server's mux that records every pattern so that all routes can be
// listed. It is the same interface literal as web.Mux, so the UI satisfies
// web.Pages without importing the web package.
type Mux = interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
	Handler(r *http.Request) (h http.Handler, pattern string)
}
