package store

import (
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// MaxFilterText caps every free-text filter (the text search and the
// source, assignee and tag filters), in characters. Nothing stored is
// longer (a source is at most 64, a tag 64, an assignee 256), and an
// unbounded LIKE pattern makes SQLite fail ("LIKE or GLOB pattern too
// complex") and costs both databases a scan per byte. The store checks
// it, so that every caller (the API, the board, the triage queue, live
// updates) refuses an oversized filter the same way.
const MaxFilterText = 256

// CheckFilterText returns a *validation.FieldError naming field when v is
// longer than MaxFilterText characters. field is the query parameter's
// name, as the API and the UI spell it.
func CheckFilterText(field, v string) error {
	if len(v) > MaxFilterText && utf8.RuneCountInString(v) > MaxFilterText {
		return validation.NewFieldError(field, "must be at most %d characters", MaxFilterText)
	}
	return nil
}

// checkFilterTexts checks pairs of field name and value.
func checkFilterTexts(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := CheckFilterText(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// validate checks an alert filter's free text, named as GET
// /api/v1/alerts names its parameters.
func (f AlertFilter) validate() error {
	return checkFilterTexts("q", f.Text, "source", f.Source)
}

// checkItemFilter checks a work-item filter's free text, named as GET
// /api/v1/workitems and the board name their parameters.
func checkItemFilter(f workitem.Filter) error {
	return checkFilterTexts("q", f.Text, "source", f.Source, "assignee", f.Assignee, "tag", f.Tag)
}
