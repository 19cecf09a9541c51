package twoway

import "github.com/vigil-soc/vigil/internal/engine"

// The health registry lives in the engine, which records every module's
// passes; these names keep the sync modules' code and tests unchanged.
type (
	Module         = engine.Module
	Health         = engine.Health
	Status         = engine.Status
	Budget         = engine.Budget
	BudgetReporter = engine.BudgetReporter
	KindReporter   = engine.KindReporter
)

// NewHealth returns an empty registry (see engine.NewHealth).
var NewHealth = engine.NewHealth

// Scrub removes credentials from an error text (see engine.Scrub).
func Scrub(s string, secrets ...string) string { return engine.Scrub(s, secrets...) }
