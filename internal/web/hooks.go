package web

import (
	"context"
	"crypto/subtle"
	"net/http"
)

// BoardsHook receives Azure Boards service hooks (twoway.BoardsHook).
type BoardsHook interface {
	Credentials() (user, password string)
	Receive(ctx context.Context, body []byte) (string, error)
}

// devopsHook authenticates a service hook by its basic credentials, which
// Azure DevOps sends on every delivery, and hands the body on.
func (s *Server) devopsHook(w http.ResponseWriter, r *http.Request) {
	if s.boards == nil {
		writeError(w, http.StatusNotFound, "not_found", "no Azure Boards mirror is configured", nil)
		return
	}
	wantUser, wantPass := s.boards.Credentials()
	user, pass, ok := r.BasicAuth()
	// Both comparisons always run, in constant time.
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(wantUser))
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(wantPass))
	if !ok || wantPass == "" || userOK&passOK != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="vigil hooks"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "the service hook's basic credentials are missing or wrong", nil)
		return
	}
	body, err := readBody(w, r, smallBody)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	result, err := s.boards.Receive(r.Context(), body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": result})
}
