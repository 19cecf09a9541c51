package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/oncall"
	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/report"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// reportsEvery is how often the report module catches the facts and
// roll-ups up: reports lag the board by at most this much.
const reportsEvery = time.Minute

// newReports builds the reports service and its roll-up module.
func newReports(cfg config.Reports, db *store.DB, proc *workitem.Process, o report.Options) (*report.Service, *report.Module) {
	for _, s := range cfg.SLOs {
		o.SLOs = append(o.SLOs, report.SLO{Name: s.Name, Metric: s.Metric, Severity: s.Severity, Team: s.Team, Target: s.Target, Objective: s.Objective})
	}
	o.TimeZone, o.StuckAfter, o.NightStart, o.NightEnd = cfg.TimeZone, cfg.StuckAfter, cfg.NightStart, cfg.NightEnd
	svc := report.New(db, rota{db: db}, proc, o)
	return svc, report.NewModule(db, proc, svc)
}

// rota reads the schedules and teams for on-call load and team filters.
type rota struct{ db *store.DB }

func (r rota) Schedules(ctx context.Context) ([]*oncall.Schedule, error) {
	defs, err := r.db.ListOnCallDefs(ctx, paging.KindSchedule)
	if err != nil {
		return nil, err
	}
	out := make([]*oncall.Schedule, 0, len(defs))
	for _, d := range defs {
		var sc oncall.Schedule
		if err := json.Unmarshal(d.Definition, &sc); err != nil {
			return nil, fmt.Errorf("schedule %s: %w", d.Name, err)
		}
		sc.Name = d.Name
		if err := sc.Normalize(); err != nil {
			return nil, fmt.Errorf("schedule %s: %w", d.Name, err)
		}
		out = append(out, &sc)
	}
	return out, nil
}

func (r rota) Teams(ctx context.Context) (map[string][]string, error) {
	defs, err := r.db.ListOnCallDefs(ctx, paging.KindTeam)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, d := range defs {
		var t struct {
			Members []string `json:"members"`
		}
		if err := json.Unmarshal(d.Definition, &t); err != nil {
			return nil, fmt.Errorf("team %s: %w", d.Name, err)
		}
		out[d.Name] = t.Members
	}
	return out, nil
}
