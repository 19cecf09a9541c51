package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/vigil-soc/vigil/internal/report"
)

// Reports computes the reports (internal/report).
type Reports interface {
	Run(ctx context.Context, name string, q url.Values) (report.Tabler, error)
}

// getReport answers GET /api/v1/reports/{name}: the report as JSON, or as
// CSV with format=csv or Accept: text/csv.
func (s *Server) getReport(w http.ResponseWriter, r *http.Request) {
	if s.reports == nil {
		writeError(w, http.StatusNotFound, "not_found", "reports are not served by this server", nil)
		return
	}
	name := r.PathValue("name")
	rep, err := s.reports.Run(r.Context(), name, r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if wantsCSV(r) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="vigil-%s.csv"`, name))
		if err := report.WriteCSV(w, rep.Tables()); err != nil {
			s.log.Warn("write report CSV", "report", name, "err", err)
		}
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func wantsCSV(r *http.Request) bool {
	if f := r.URL.Query().Get("format"); f != "" {
		return f == "csv"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/csv")
}
