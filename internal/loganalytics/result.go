package loganalytics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Result is a query's answer: its tables, the first named PrimaryResult.
type Result struct {
	Tables []Table
}

// Table is one result table. Rows hold JSON values: string, int64 (an
// integral number), float64, bool or nil.
type Table struct {
	Name    string
	Columns []Column
	Rows    [][]any
}

// Column is a result column and its KQL type (string, datetime, long,
// int, real, bool, dynamic, guid, timespan).
type Column struct {
	Name, Type string
}

// PartialError is the non-fatal error of a 200 answer: the query ran but
// its result is incomplete (truncated at the limits, a shard failed).
// Query returns it with the result.
type PartialError struct {
	Code    string // PartialError
	Message string
	// Details are the inner errors' messages, which say what happened.
	Details []string
}

func (e *PartialError) Error() string {
	s := "loganalytics: partial result: " + e.Code + ": " + e.Message
	if len(e.Details) > 0 {
		s += " (" + strings.Join(e.Details, "; ") + ")"
	}
	return s
}

// Decode reads a 200 answer of the query API. With an "error" member it
// returns the result and a *PartialError.
func Decode(data []byte) (*Result, error) {
	var body struct {
		Tables *[]struct {
			Name    string `json:"name"`
			Columns []struct {
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"columns"`
			Rows [][]any `json:"rows"`
		} `json:"tables"`
		Error *wireError `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("loganalytics: decode answer: %w", err)
	}
	if body.Tables == nil {
		if body.Error != nil {
			return nil, &Error{Status: 200, Code: body.Error.Code, Message: body.Error.Message}
		}
		return nil, fmt.Errorf("loganalytics: answer has no tables")
	}
	res := &Result{Tables: make([]Table, 0, len(*body.Tables))}
	for ti, t := range *body.Tables {
		tab := Table{Name: t.Name, Columns: make([]Column, len(t.Columns)), Rows: make([][]any, len(t.Rows))}
		for i, c := range t.Columns {
			if c.Name == "" {
				return nil, fmt.Errorf("loganalytics: table %d column %d has no name", ti, i)
			}
			tab.Columns[i] = Column{Name: c.Name, Type: c.Type}
		}
		for i, r := range t.Rows {
			for j, v := range r {
				r[j] = plain(v)
			}
			tab.Rows[i] = r
		}
		res.Tables = append(res.Tables, tab)
	}
	if body.Error != nil {
		pe := &PartialError{Code: body.Error.Code, Message: body.Error.Message}
		for _, d := range body.Error.Details {
			msg := d.Message
			if d.InnerError != nil && d.InnerError.Message != "" {
				msg = d.InnerError.Message
			}
			pe.Details = append(pe.Details, msg)
		}
		return res, pe
	}
	return res, nil
}

// plain turns json.Number into int64 when integral, else float64; nested
// values (which the API does not send: dynamic columns come as JSON text)
// are kept.
func plain(v any) any {
	n, ok := v.(json.Number)
	if !ok {
		return v
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	f, err := n.Float64()
	if err != nil {
		return n.String()
	}
	return f
}

// Primary returns the first table (PrimaryResult), or an empty one.
func (r *Result) Primary() Table {
	if r == nil || len(r.Tables) == 0 {
		return Table{}
	}
	return r.Tables[0]
}

// Records returns the rows keyed by column name, with values converted by
// column type: datetime to time.Time, long and int to int64, real to
// float64, bool to bool, everything else as it came (dynamic columns stay
// JSON text). A value that does not convert is kept as it came, for the
// caller to reject; cells missing at the end of a short row are absent.
func (t Table) Records() []map[string]any {
	out := make([]map[string]any, 0, len(t.Rows))
	for _, r := range t.Rows {
		rec := make(map[string]any, len(t.Columns))
		for i, c := range t.Columns {
			if i >= len(r) {
				break
			}
			rec[c.Name] = convert(c.Type, r[i])
		}
		out = append(out, rec)
	}
	return out
}

func convert(typ string, v any) any {
	if v == nil {
		return nil
	}
	switch typ {
	case "datetime":
		if s, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t.UTC()
			}
		}
	case "long", "int":
		switch x := v.(type) {
		case int64:
			return x
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return int64(x)
			}
		case string:
			if i, err := strconv.ParseInt(x, 10, 64); err == nil {
				return i
			}
		}
	case "real":
		switch x := v.(type) {
		case int64:
			return float64(x)
		case float64:
			return x
		case string:
			if f, err := strconv.ParseFloat(x, 64); err == nil {
				return f
			}
		}
	case "bool":
		switch x := v.(type) {
		case bool:
			return x
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b
			}
		}
	}
	return v
}
