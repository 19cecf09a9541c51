package web

import (
	"net/http"
	"slices"
)

// Mux is where Pages register their routes. *http.ServeMux satisfies it;
// the server hands Pages one that also records each pattern, so that every
// route it serves can be listed (Routes) and the authorization matrix test
// can insist on a row for each. It is an alias of an interface literal so
// that a package declaring the same literal (the UI) needs not import this
// one.
type Mux = interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
	Handler(r *http.Request) (h http.Handler, pattern string)
}

// recorder is the server's mux, noting every pattern registered on it.
type recorder struct{ s *Server }

func (m recorder) Handle(pattern string, h http.Handler) {
	m.s.patterns = append(m.s.patterns, pattern)
	m.s.mux.Handle(pattern, h)
}

func (m recorder) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

func (m recorder) Handler(r *http.Request) (http.Handler, string) { return m.s.mux.Handler(r) }

// Routes returns every pattern registered on the server, the API's and the
// Pages', sorted.
func (s *Server) Routes() []string {
	out := slices.Clone(s.patterns)
	slices.Sort(out)
	return out
}
