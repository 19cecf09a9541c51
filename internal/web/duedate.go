package web

import (
	"time"

	"github.com/vigil-soc/vigil/internal/workitem"
)

// ParseDueDate reads the due_date field of a work-item patch (see
// workitem.ParseDueDate).
func ParseDueDate(s *string) (*time.Time, error) { return workitem.ParseDueDate(s) }
