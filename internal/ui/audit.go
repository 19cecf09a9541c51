package ui

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// auditPage is how many entries one page of the audit log shows.
const auditPage = 100

// auditData is the audit log page.
type auditData struct {
	Entries []auditRow
	Actions []string
	Action  string // the filter; "" shows every action
	Next    string // the next (older) page's URL; "" on the last page
	Export  string // the export's URL, with the same filter
}

// auditRow is one entry as the page shows it, detail flattened.
type auditRow struct {
	store.AuditEntry
	Details []string // "key: value", sorted by key
}

// auditFilter reads ?action= and ?after= of the audit page and export.
func auditFilter(r *http.Request) (store.AuditFilter, error) {
	q := r.URL.Query()
	f := store.AuditFilter{Action: strings.TrimSpace(q.Get("action"))}
	if err := store.CheckFilterText("action", f.Action); err != nil {
		return f, err
	}
	if v := q.Get("after"); v != "" {
		after, err := strconv.ParseInt(v, 10, 64)
		if err != nil || after < 1 {
			return f, validation.NewFieldError("after", "must be a positive integer, got %q", v)
		}
		f.After = after
	}
	return f, nil
}

// adminAudit shows the audit log, newest first, a page at a time.
func (u *UI) adminAudit(w http.ResponseWriter, r *http.Request, v *view) {
	if !u.admin(w, r, v) {
		return
	}
	f, err := auditFilter(r)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	f.Limit = auditPage
	entries, err := u.o.Accounts.AuditLog(r.Context(), v.Actor, f)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	d := auditData{Action: f.Action, Actions: account.AuditActions, Export: "/admin/audit/export"}
	if f.Action != "" && !slices.Contains(d.Actions, f.Action) {
		d.Actions = append(slices.Clone(d.Actions), f.Action)
	}
	filter := url.Values{}
	if f.Action != "" {
		filter.Set("action", f.Action)
		d.Export += "?" + filter.Encode()
	}
	for _, e := range entries {
		d.Entries = append(d.Entries, auditRow{AuditEntry: e, Details: flatDetail(e.Detail)})
	}
	if len(entries) == auditPage {
		filter.Set("after", strconv.FormatInt(entries[len(entries)-1].ID, 10))
		d.Next = "/admin/audit?" + filter.Encode()
	}
	v.Title, v.Nav, v.Data = "Audit log", "admin", d
	u.render(w, http.StatusOK, "admin_audit.html", v)
}

// flatDetail renders detail as sorted "key: value" strings.
func flatDetail(detail map[string]any) []string {
	keys := make([]string, 0, len(detail))
	for k := range detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%s: %v", k, detail[k])
	}
	return out
}

// adminAuditExport downloads the whole audit log (or one action's
// entries) as JSON lines, newest first. It reads and writes a page at a
// time, so that a long log is never held in memory at once.
func (u *UI) adminAuditExport(w http.ResponseWriter, r *http.Request, v *view) {
	if !u.admin(w, r, v) {
		return
	}
	f, err := auditFilter(r)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	f.Limit = store.MaxPage
	// The first page is read before any byte is written, so that an
	// error (a refused actor, a database failure) still gets a status.
	entries, err := u.o.Accounts.AuditLog(r.Context(), v.Actor, f)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Content-Disposition", `attachment; filename="vigil-audit-`+u.clock.Now().UTC().Format("20060102-150405")+`.jsonl"`)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	rc := http.NewResponseController(w)
	for n := 0; ; {
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				u.log.Warn("audit export ended early", "written", n, "err", err)
				return
			}
			n++
		}
		if len(entries) < f.Limit {
			break
		}
		if err := bw.Flush(); err != nil {
			u.log.Warn("audit export ended early", "written", n, "err", err)
			return
		}
		rc.Flush()
		f.After = entries[len(entries)-1].ID
		if entries, err = u.o.Accounts.AuditLog(r.Context(), v.Actor, f); err != nil {
			// The status is sent; all that is left is to cut the
			// download short, which the client sees as an error.
			u.log.Error("audit export failed midway", "written", n, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	if err := bw.Flush(); err != nil {
		u.log.Warn("audit export ended early", "err", err)
	}
}
