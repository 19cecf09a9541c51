package workitem

import (
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// ParseDueDate reads a work item's due date as the API and the item page
// send it: nil leaves it alone, "" clears it (a zero time), a date
// ("2030-03-01") is midnight UTC of that day, and an RFC 3339 time is
// that instant. Anything else is a 400 naming the due_date field.
func ParseDueDate(s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	v := strings.TrimSpace(*s)
	if v == "" {
		return &time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, v); err != nil {
			return nil, validation.NewFieldError("due_date", "must be a date (YYYY-MM-DD) or an RFC 3339 time, not %q", v)
		}
	}
	if t.Year() < 2000 || t.Year() > 9999 {
		return nil, validation.NewFieldError("due_date", "year %d is out of range", t.Year())
	}
	t = t.UTC()
	return &t, nil
}
