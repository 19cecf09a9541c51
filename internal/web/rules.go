package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/rules"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// RuleAdmin manages automation rules (internal/rules.Service).
type RuleAdmin interface {
	List(ctx context.Context, actor auth.Actor) ([]store.StoredRule, error)
	Get(ctx context.Context, actor auth.Actor, id int64) (store.StoredRule, error)
	Save(ctx context.Context, actor auth.Actor, id int64, d automation.Definition) (automation.Rule, error)
	Versions(ctx context.Context, actor auth.Actor, id int64) ([]store.RuleVersion, error)
	Preview(ctx context.Context, actor auth.Actor, d automation.Definition, days int) (rules.Preview, error)
	Noise(ctx context.Context, actor auth.Actor, days, limit int) (rules.NoiseReport, error)
}

func (s *Server) rulesOff(w http.ResponseWriter) bool {
	if s.rules == nil {
		writeError(w, http.StatusNotFound, "not_found", "automation rules are not managed by this server", nil)
		return true
	}
	return false
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) {
	if s.rulesOff(w) {
		return
	}
	rs, err := s.rules.List(r.Context(), auth.FromContext(r.Context()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if rs == nil {
		rs = []store.StoredRule{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": rs})
}

func (s *Server) getRule(w http.ResponseWriter, r *http.Request) {
	if s.rulesOff(w) {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rule, err := s.rules.Get(r.Context(), auth.FromContext(r.Context()), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rule)
}

func (s *Server) saveRule(w http.ResponseWriter, r *http.Request) {
	if s.rulesOff(w) {
		return
	}
	var id int64
	if r.PathValue("id") != "" {
		var err error
		if id, err = pathID(r, "id"); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var d automation.Definition
	if err := decodeJSON(w, r, &d); err != nil {
		s.fail(w, r, err)
		return
	}
	rule, err := s.rules.Save(r.Context(), auth.FromContext(r.Context()), id, d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	code := http.StatusOK
	if id == 0 {
		code = http.StatusCreated
		w.Header().Set("Location", "/api/v1/rules/"+strconv.FormatInt(rule.ID, 10))
	}
	writeJSON(w, code, rule)
}

func (s *Server) ruleVersions(w http.ResponseWriter, r *http.Request) {
	if s.rulesOff(w) {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	vs, err := s.rules.Versions(r.Context(), auth.FromContext(r.Context()), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
}

// previewRule answers POST /api/v1/rules/preview?days=N with what the
// posted definition would have done over the stored alerts.
func (s *Server) previewRule(w http.ResponseWriter, r *http.Request) {
	if s.rulesOff(w) {
		return
	}
	days := 30
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			s.fail(w, r, validation.NewFieldError("days", "must be a positive whole number"))
			return
		}
		days = n
	}
	var d automation.Definition
	if err := decodeJSON(w, r, &d); err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.rules.Preview(r.Context(), auth.FromContext(r.Context()), d, days)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// ruleNoise answers GET /api/v1/rules/noise?days=N&limit=M: the noise per
// type, title, key entity and source, and the suppression rules proposed
// for the noisiest.
func (s *Server) ruleNoise(w http.ResponseWriter, r *http.Request) {
	if s.rulesOff(w) {
		return
	}
	q := r.URL.Query()
	var n [2]int
	for i, name := range []string{"days", "limit"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		x, err := strconv.Atoi(v)
		if err != nil || x <= 0 {
			s.fail(w, r, validation.NewFieldError(name, "must be a positive whole number"))
			return
		}
		n[i] = x
	}
	rep, err := s.rules.Noise(r.Context(), auth.FromContext(r.Context()), n[0], n[1])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) ruleVocabulary(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, rules.Vocabulary())
}
