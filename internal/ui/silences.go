package ui

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alertmanager"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Silencer makes Alertmanager silences (kept as suppression rules), the
// same ones amtool lists and expires.
type Silencer interface {
	SaveSilence(ctx context.Context, actor auth.Actor, p alertmanager.PostableSilence) (string, error)
	ExpireSilence(ctx context.Context, actor auth.Actor, id string) error
}

// silenceAdd is POST /rules/silences: a silence from the rules page, with
// matchers in amtool's syntax, a duration and a comment. amtool sees it.
func (u *UI) silenceAdd(w http.ResponseWriter, r *http.Request, v *view) {
	if u.o.Silences == nil {
		u.fail(w, r, v, fmt.Errorf("silences: %w", validation.ErrNotFound))
		return
	}
	if err := v.Actor.Check(auth.ActionTriage); err != nil {
		u.fail(w, r, v, err)
		return
	}
	ms, err := alertmanager.ParseMatchers(r.PostFormValue("matchers"))
	if err != nil || len(ms) == 0 {
		u.fail(w, r, v, validation.NewFieldError("matchers", "write label matchers separated by commas, e.g. alertname=\"DiskFull\", instance=~\"db-.*\" (%v)", err))
		return
	}
	d, err := time.ParseDuration(strings.TrimSpace(r.PostFormValue("duration")))
	if err != nil || d <= 0 {
		u.fail(w, r, v, validation.NewFieldError("duration", "a duration such as 2h or 30m"))
		return
	}
	now := u.clock.Now()
	id, err := u.o.Silences.SaveSilence(r.Context(), v.Actor, alertmanager.PostableSilence{Matchers: ms, StartsAt: now, EndsAt: now.Add(d),
		CreatedBy: v.Actor.Name, Comment: strings.TrimSpace(r.PostFormValue("comment"))})
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	u.setFlash(w, r, flash{Text: fmt.Sprintf("Silence %s made: new Alertmanager alerts matching %s make no item until %s.", id, ms.String(), now.Add(d).UTC().Format("2006-01-02 15:04 UTC"))})
	http.Redirect(w, r, "/rules", http.StatusSeeOther)
}

// silenceExpire is POST /rules/silences/{id}/expire.
func (u *UI) silenceExpire(w http.ResponseWriter, r *http.Request, v *view) {
	if u.o.Silences == nil {
		u.fail(w, r, v, fmt.Errorf("silences: %w", validation.ErrNotFound))
		return
	}
	id := r.PathValue("id")
	if err := u.o.Silences.ExpireSilence(r.Context(), v.Actor, id); err != nil {
		u.fail(w, r, v, err)
		return
	}
	u.setFlash(w, r, flash{Text: "Silence " + id + " expired."})
	http.Redirect(w, r, "/rules", http.StatusSeeOther)
}
