package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
)

// outboxState reads ?state=, which is one of the outbox's states or absent.
func outboxState(r *http.Request) (string, error) {
	st := r.URL.Query().Get("state")
	switch st {
	case "", outbox.Pending, outbox.Done, outbox.Failed, outbox.Cancelled:
		return st, nil
	}
	return "", validation.NewFieldError("state", "unknown state %q (want %s, %s, %s or %s)",
		st, outbox.Pending, outbox.Done, outbox.Failed, outbox.Cancelled)
}

// writeOutboxPage lists the outbox, newest first, optionally of one item.
func (s *Server) writeOutboxPage(w http.ResponseWriter, r *http.Request, itemID int64) {
	limit, after, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	state, err := outboxState(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msgs, err := s.store.ListOutbox(r.Context(), state, itemID, after, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(msgs, limit, func(m outbox.Message) int64 { return m.ID }))
}

func (s *Server) listOutbox(w http.ResponseWriter, r *http.Request) {
	var itemID int64
	if v := r.URL.Query().Get("workitem_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			s.fail(w, r, validation.NewFieldError("workitem_id", "must be a positive integer, got %q", v))
			return
		}
		itemID = id
	}
	s.writeOutboxPage(w, r, itemID)
}

// itemOutbox lists one work item's writes to external systems; 404 when
// the item does not exist (an existing item may have none).
func (s *Server) itemOutbox(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.items.Get(r.Context(), auth.FromContext(r.Context()), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeOutboxPage(w, r, id)
}

func (s *Server) getOutbox(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.store.GetOutbox(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// retryOutbox makes a failed or waiting message due now. A delivered
// message cannot be sent again: 409.
func (s *Server) retryOutbox(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.store.GetOutbox(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if m.State == outbox.Done {
		writeError(w, http.StatusConflict, "conflict", doneText(id), nil)
		return
	}
	if err := s.store.RetryOutboxNow(r.Context(), id); err != nil {
		if errors.Is(err, validation.ErrNotFound) {
			// Delivered between the read and the update.
			writeError(w, http.StatusConflict, "conflict", doneText(id), nil)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.log.Info("outbox message retried now", "id", id, "target", m.Target, "op", m.Op,
		"actor", auth.FromContext(r.Context()).String())
	if m, err = s.store.GetOutbox(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func doneText(id int64) string {
	return "outbox message " + strconv.FormatInt(id, 10) + " was already delivered; there is nothing to retry"
}
