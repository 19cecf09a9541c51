package web

import (
	"net/http"
	"strings"

	"github.com/vigil-soc/vigil/internal/store"
)

// testContactMethod is POST /api/v1/contact-methods/{id}/test: a test
// notification to one of the caller's own verified methods (or, for an
// admin, anyone's), at most one a minute.
func (s *Server) testContactMethod(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	nid, err := s.pager.TestContactMethod(r.Context(), actorOf(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"notification_id": nid})
}

// pageNotifications is GET /api/v1/pages/{id}/notifications: the page's
// notification log.
func (s *Server) pageNotifications(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.notificationLog(w, r, store.NotificationFilter{PageID: id, Limit: 500})
}

// userNotifications is GET /api/v1/users/{user}/notifications: what was
// sent to one person, newest first.
func (s *Server) userNotifications(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	s.notificationLog(w, r, store.NotificationFilter{User: strings.ToLower(r.PathValue("user")), Limit: 200})
}

func (s *Server) notificationLog(w http.ResponseWriter, r *http.Request, f store.NotificationFilter) {
	log, err := s.pager.NotificationLog(r.Context(), actorOf(r), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if log == nil {
		log = []store.NotificationLogEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": log})
}
