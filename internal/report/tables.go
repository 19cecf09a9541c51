package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Table is a report's figures as rows of cells: what the CSV export
// writes and what the web page shows under each chart. A nil cell is "no
// data".
type Table struct {
	Name    string    `json:"name"`
	Columns []string  `json:"columns"`
	Rows    [][]*Cell `json:"rows"`
}

// Cell is one figure: a number (seconds for durations, shares from 0 to
// 1), a text, or a work item to link to.
type Cell struct {
	Text     string  `json:"text,omitempty"`
	Num      float64 `json:"num,omitempty"`
	IsNum    bool    `json:"-"`
	Duration bool    `json:"-"` // Num is seconds
	Share    bool    `json:"-"` // Num is a share, 0 to 1
	ItemID   int64   `json:"workitem_id,omitempty"`
}

func txt(s string) *Cell     { return &Cell{Text: s} }
func num(n int64) *Cell      { return &Cell{Num: float64(n), IsNum: true} }
func item(id int64) *Cell    { return &Cell{ItemID: id, Num: float64(id), IsNum: true} }
func when(t time.Time) *Cell { return &Cell{Text: t.UTC().Format(time.RFC3339)} }
func dur(v *float64) *Cell {
	if v == nil {
		return nil
	}
	return &Cell{Num: *v, IsNum: true, Duration: true}
}
func share(v *float64) *Cell {
	if v == nil {
		return nil
	}
	return &Cell{Num: *v, IsNum: true, Share: true}
}

// CSVValue is the cell as CSV writes it: numbers plainly (seconds,
// shares), no data as an empty field.
func (c *Cell) CSVValue() string {
	if c == nil {
		return ""
	}
	if !c.IsNum {
		return c.Text
	}
	return strconv.FormatFloat(c.Num, 'f', -1, 64)
}

// WriteCSV writes tables one after the other, each headed by its name on
// a line of its own and separated by an empty line.
func WriteCSV(w io.Writer, tables []Table) error {
	cw := csv.NewWriter(w)
	for i, t := range tables {
		if i > 0 {
			if err := cw.Write([]string{}); err != nil {
				return err
			}
		}
		if err := cw.Write([]string{"# " + t.Name}); err != nil {
			return err
		}
		if err := cw.Write(t.Columns); err != nil {
			return err
		}
		for _, r := range t.Rows {
			rec := make([]string, len(r))
			for j, c := range r {
				rec[j] = c.CSVValue()
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func statCells(s Stat) []*Cell {
	return []*Cell{num(s.N), dur(s.Median), dur(s.P90), dur(s.Mean)}
}

var statCols = []string{"n", "median_seconds", "p90_seconds", "mean_seconds"}

// Tables of the response report.
func (r Response) Tables() []Table {
	sum := Table{Name: "Summary", Columns: append([]string{"metric"}, statCols...)}
	sum.Rows = append(sum.Rows, append([]*Cell{txt("Time to acknowledge (MTTA)")}, statCells(r.TTA)...),
		append([]*Cell{txt("Time to resolve (MTTR)")}, statCells(r.TTR)...))
	counts := Table{Name: "Items", Columns: []string{"created", "acknowledged", "resolved", "reopened"},
		Rows: [][]*Cell{{num(r.Items), num(r.Acked), num(r.Resolved), num(r.Reopened)}}}
	states := Table{Name: "Time in state", Columns: append([]string{"state"}, statCols...)}
	for _, s := range r.States {
		states.Rows = append(states.Rows, append([]*Cell{txt(s.State)}, statCells(s.Stat)...))
	}
	series := Table{Name: "Per " + r.Period.Bucket, Columns: []string{r.Period.Bucket, "items", "tta_median_seconds", "tta_p90_seconds", "resolved", "ttr_median_seconds", "ttr_p90_seconds"}}
	for _, p := range r.Series {
		series.Rows = append(series.Rows, []*Cell{txt(p.Label), num(p.Items), dur(p.TTA.Median), dur(p.TTA.P90), num(p.Resolved), dur(p.TTR.Median), dur(p.TTR.P90)})
	}
	return []Table{sum, counts, states, series}
}

// Tables of the SLO report.
func (r SLOReport) Tables() []Table {
	t := Table{Name: "SLOs", Columns: []string{"slo", "metric", "severity", "team", "target_seconds", "objective", "met", "missed", "pending", "attainment", "status"}}
	b := Table{Name: "Breaches", Columns: []string{"slo", "workitem_id", "created_at", "severity", "assignee", "took_seconds", "overdue"}}
	for _, s := range r.SLOs {
		sev := ""
		for i, v := range s.Severity {
			if i > 0 {
				sev += " "
			}
			sev += v
		}
		obj := s.Objective
		tgt := s.TargetSeconds
		t.Rows = append(t.Rows, []*Cell{txt(s.Name), txt(s.Metric), txt(sev), txt(s.Team), dur(&tgt), share(&obj), num(s.Met), num(s.Missed),
			num(s.Pending), share(s.Attainment), txt(s.Status)})
		for _, x := range s.Breaches {
			b.Rows = append(b.Rows, []*Cell{txt(s.Name), item(x.ItemID), when(x.Created), txt(x.Severity), txt(x.Assignee), dur(x.Took),
				txt(strconv.FormatBool(x.Overdue))})
		}
	}
	return []Table{t, b}
}

// Tables of the detection quality report.
func (q Quality) Tables() []Table {
	t := Table{Name: "Detections by " + q.By, Columns: []string{q.By, "items", "closed", "true_positive", "benign_positive", "false_positive", "undetermined",
		"true_positive_share", "benign_positive_share", "false_positive_share", "undetermined_share", "acted", "never_acted", "closed_by_rule", "median_ttr_seconds"}}
	for _, r := range q.Rows {
		t.Rows = append(t.Rows, []*Cell{txt(r.Key), num(r.Items), num(r.Closed), num(r.TruePositive), num(r.BenignPositive), num(r.FalsePositive),
			num(r.Undetermined), share(r.TruePositiveShare), share(r.BenignPositiveShare), share(r.FalsePositiveShare), share(r.UndeterminedShare),
			num(r.Acted), txt(strconv.FormatBool(r.NeverActed)), num(r.ClosedByRule), dur(r.MedianTTR)})
	}
	s := Table{Name: "Suppression rules", Columns: []string{"rule", "hits", "saved_seconds"}}
	for _, x := range q.Suppressions {
		s.Rows = append(s.Rows, []*Cell{txt(x.Rule), num(x.Hits), dur(x.SavedSeconds)})
	}
	return []Table{t, s}
}

// Tables of the on-call load report.
func (r OnCallLoad) Tables() []Table {
	sum := Table{Name: "Pages", Columns: append([]string{"pages", "acknowledged", "escalated"}, statCols...)}
	sum.Rows = [][]*Cell{append([]*Cell{num(r.Pages), num(r.Acked), num(r.Escalated)}, statCells(r.PageTTA)...)}
	p := Table{Name: "People", Columns: []string{"user", "pages", "interruptions", "night", "weekend", "acknowledged", "on_call_hours", "shifts", "interruptions_per_shift"}}
	for _, x := range r.People {
		h := x.OnCallHours
		p.Rows = append(p.Rows, []*Cell{txt(x.User), num(x.Pages), num(x.Interruptions), num(x.Night), num(x.Weekend), num(x.Acknowledged),
			{Num: h, IsNum: true}, num(x.Shifts), ratio(x.InterruptionsPerShift)})
	}
	f := Table{Name: "Fairness", Columns: []string{"schedule", "rotation", "user", "on_call_hours", "hours_share", "interruptions", "interruption_share", "night", "fairness_index"}}
	for _, s := range r.Fairness {
		for _, x := range s.Participants {
			h := x.OnCallHours
			f.Rows = append(f.Rows, []*Cell{txt(s.Schedule), txt(s.Rotation), txt(x.User), {Num: h, IsNum: true}, share(x.HoursShare), num(x.Interruptions),
				share(x.InterruptionShare), num(x.Night), ratio(s.Index)})
		}
	}
	return []Table{sum, p, f}
}

func ratio(v *float64) *Cell {
	if v == nil {
		return nil
	}
	return &Cell{Num: *v, IsNum: true}
}

// Tables of the flow report.
func (f Flow) Tables() []Table {
	cfd := Table{Name: "Cumulative flow", Columns: append([]string{"at"}, f.States...)}
	for _, p := range f.CFD {
		row := []*Cell{txt(p.At.In(f.Period.Loc).Format("2006-01-02 15:04 MST"))}
		for _, s := range f.States {
			row = append(row, num(p.Counts[s]))
		}
		cfd.Rows = append(cfd.Rows, row)
	}
	var terminal []string
	if len(f.Throughput) > 0 {
		for _, s := range f.States {
			if _, ok := f.Throughput[0].Done[s]; ok {
				terminal = append(terminal, s)
			}
		}
	}
	tp := Table{Name: "Throughput per " + f.Period.Bucket, Columns: append(append([]string{f.Period.Bucket}, terminal...), "total")}
	for _, t := range f.Throughput {
		row := []*Cell{txt(t.Label)}
		for _, s := range terminal {
			row = append(row, num(t.Done[s]))
		}
		tp.Rows = append(tp.Rows, append(row, num(t.Total)))
	}
	w := Table{Name: "Age of work in progress", Columns: []string{"age", "items"}}
	for _, b := range f.WIP {
		w.Rows = append(w.Rows, []*Cell{txt(b.Label), num(b.Count)})
	}
	st := Table{Name: fmt.Sprintf("Stuck (in one state longer than %s)", humanDuration(f.StuckAfter)), Columns: []string{"workitem_id", "state", "since", "seconds_in_state", "severity", "assignee"}}
	for _, s := range f.Stuck {
		sec := s.Seconds
		st.Rows = append(st.Rows, []*Cell{item(s.ItemID), txt(s.State), when(s.Since), dur(&sec), txt(s.Severity), txt(s.Assignee)})
	}
	return []Table{cfd, tp, w, st}
}

// HumanDuration formats seconds for people: "42 s", "14 min", "3.5 h",
// "2.1 d".
func HumanDuration(s float64) string { return humanDuration(s) }

func humanDuration(s float64) string {
	switch {
	case s < 60:
		return strconv.FormatFloat(s, 'f', 0, 64) + " s"
	case s < 3600:
		return strconv.FormatFloat(s/60, 'f', 1, 64) + " min"
	case s < 2*86400:
		return strconv.FormatFloat(s/3600, 'f', 1, 64) + " h"
	}
	return strconv.FormatFloat(s/86400, 'f', 1, 64) + " d"
}
