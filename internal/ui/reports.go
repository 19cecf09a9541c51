package ui

import (
	"context"
	"net/url"

	"github.com/vigil-soc/vigil/internal/report"
)

// Reports computes the reports the reports pages show.
type Reports interface {
	Run(ctx context.Context, name string, q url.Values) (report.Tabler, error)
	TimeZone() string
}
