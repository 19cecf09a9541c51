package simulator

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The Log Analytics query API (api.loganalytics.io), as documented at
// https://learn.microsoft.com/rest/api/loganalytics/dataaccess/query/execute
// and …/query/get, with the response format of
// https://learn.microsoft.com/azure/azure-monitor/logs/api/response-format
// and the errors of
// https://learn.microsoft.com/azure/azure-monitor/logs/api/errors. The
// queries run over the world's telemetry and its Sentinel incidents and
// alerts with the KQL subset of kql.go.

// laWorkspaceGUID is the workspace's customerId, the id the query API
// addresses it by: the same GUID the Sentinel alerts' resourceIdentifiers
// carry.
func (s *Simulator) laWorkspaceGUID() string {
	return sentinelDerivedGUID("workspace:" + strings.ToLower(s.world.workspaceID()))
}

// WorkspaceGUID is the simulated workspace's id for the query API.
func (s *Simulator) WorkspaceGUID() string { return s.laWorkspaceGUID() }

func (s *Simulator) logAnalyticsRoutes() {
	s.handle("POST /v1/workspaces/{workspaceId}/query", "loganalytics.query", audLogAnalytics, func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Query      *string  `json:"query"`
			Timespan   string   `json:"timespan"`
			Workspaces []string `json:"workspaces"`
		}
		if err := decodeJSON(r, &body); err != nil {
			laError(w, http.StatusBadRequest, "BadArgumentError", "The request had some invalid properties", map[string]any{
				"code": "InvalidBody", "message": "The request body is not valid JSON: " + err.Error()})
			return
		}
		if body.Query == nil {
			laMissingQuery(w)
			return
		}
		s.laQuery(w, r.PathValue("workspaceId"), *body.Query, body.Timespan, len(body.Workspaces) > 0)
	})
	s.handle("GET /v1/workspaces/{workspaceId}/query", "loganalytics.query", audLogAnalytics, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !q.Has("query") {
			laMissingQuery(w)
			return
		}
		s.laQuery(w, r.PathValue("workspaceId"), q.Get("query"), q.Get("timespan"), q.Has("workspaces"))
	})
	// Telemetry arriving in the workspace, for tests and the demo: a JSON
	// array of rows with the table's column names.
	s.handle("POST /sim/v1/loganalytics/{table}", "sim.loganalytics.ingest", "", func(w http.ResponseWriter, r *http.Request) {
		var n int
		switch r.PathValue("table") {
		case "DeviceNetworkEvents":
			var rows []NetworkEvent
			if err := decodeJSON(r, &rows); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON array of DeviceNetworkEvents rows: " + err.Error()})
				return
			}
			for _, e := range rows {
				s.world.AddNetworkEvent(e)
			}
			n = len(rows)
		case "CommonSecurityLog":
			var rows []SecurityLogEvent
			if err := decodeJSON(r, &rows); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON array of CommonSecurityLog rows: " + err.Error()})
				return
			}
			for _, e := range rows {
				s.world.AddSecurityLog(e)
			}
			n = len(rows)
		default:
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "table must be DeviceNetworkEvents or CommonSecurityLog"})
			return
		}
		writeJSON(w, http.StatusCreated, map[string]int{"added": n})
	})
}

// laError writes the query API's error shape: {"error": {message, code,
// correlationId, innererror}}.
func laError(w http.ResponseWriter, status int, code, msg string, inner map[string]any) {
	e := map[string]any{"message": msg, "code": code, "correlationId": newGUID()}
	if inner != nil {
		e["innererror"] = inner
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func laMissingQuery(w http.ResponseWriter) {
	laError(w, http.StatusBadRequest, "BadArgumentError", "The request had some invalid properties", map[string]any{
		"code": "QueryValidationError", "message": "Required property 'query' not found in JSON. Path '', line 1, position 2."})
}

func (s *Simulator) laQuery(w http.ResponseWriter, workspace, query, timespan string, crossWorkspace bool) {
	if !strings.EqualFold(workspace, s.laWorkspaceGUID()) {
		laError(w, http.StatusNotFound, "WorkspaceNotFoundError", "The workspace could not be found", nil)
		return
	}
	if crossWorkspace {
		laError(w, http.StatusBadRequest, "BadArgumentError", "The request had some invalid properties", map[string]any{
			"code": "NotSupported", "message": "the simulator has one workspace; 'workspaces' is not supported"})
		return
	}
	now := s.clock.Now().UTC()
	from, to, err := laTimespan(timespan, now)
	if err != nil {
		laError(w, http.StatusBadRequest, "BadArgumentError", "The request had some invalid properties", map[string]any{
			"code": "InvalidTimespan", "message": err.Error()})
		return
	}
	q, err := parseKQL(query)
	var res *kqlTable
	var truncated bool
	if err == nil {
		res, truncated, err = runKQL(q, kqlEnv{table: s.laTable, now: now}, from, to)
	}
	if err != nil {
		laQueryError(w, query, err)
		return
	}
	rows := make([][]any, len(res.Rows))
	for i, r := range res.Rows {
		out := make([]any, len(r))
		for j, v := range r {
			out[j] = laCell(v)
		}
		rows[i] = out
	}
	cols := res.Cols
	if cols == nil {
		cols = []kqlColumn{}
	}
	body := map[string]any{"tables": []map[string]any{{"name": "PrimaryResult", "columns": cols, "rows": rows}}}
	if truncated {
		body["error"] = map[string]any{
			"code": "PartialError", "message": "There were some errors when processing your query.",
			"details": []map[string]any{{
				"code": "EngineError", "message": "Something went wrong processing your query on the server.",
				"innererror": map[string]any{"code": "-2133196797", "message": fmt.Sprintf(
					"Query result set has exceeded the internal record count limit %d (E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)", kqlMaxRecords),
					"severity": 2, "severityName": "Error"},
			}},
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// laCell is a value as the query API writes it: datetimes in ISO 8601
// UTC, numbers as numbers, dynamic values as their JSON text.
func laCell(v any) any {
	switch x := v.(type) {
	case time.Time:
		if x.IsZero() {
			return nil
		}
		// Kusto's datetime counts 100 ns ticks, as ARM's times print.
		return x.UTC().Truncate(100 * time.Nanosecond).Format("2006-01-02T15:04:05.9999999Z")
	case time.Duration:
		return laTimespanText(x)
	case string:
		return x
	}
	return v
}

// laTimespanText renders a timespan as the service does ("1.02:03:04").
func laTimespanText(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	s := fmt.Sprintf("%02d:%02d:%02d", d/time.Hour, (d%time.Hour)/time.Minute, (d%time.Minute)/time.Second)
	if days > 0 {
		s = fmt.Sprintf("%d.%s", days, s)
	}
	return sign + s
}

// laQueryError answers a refused query with the service's nested error:
// BadArgumentError, then SyntaxError or SemanticError, then the engine's
// code (SYN0002, SEM0100) with the detail.
func laQueryError(w http.ResponseWriter, query string, err error) {
	ke, ok := err.(*kqlError)
	if !ok {
		laError(w, http.StatusInternalServerError, "InternalServerError", "An internal server error occurred.", nil)
		return
	}
	if ke.Semantic {
		laError(w, http.StatusBadRequest, "BadArgumentError", "The request had some invalid properties", map[string]any{
			"code": "SemanticError", "message": "A semantic error occurred.",
			"innererror": map[string]any{"code": "SEM0100", "message": ke.Msg},
		})
		return
	}
	line, col := 1, 1
	for i := 0; i < ke.Pos && i < len(query); i++ {
		if query[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	laError(w, http.StatusBadRequest, "BadArgumentError", "The request had some invalid properties", map[string]any{
		"code": "SyntaxError", "message": "A recognition error occurred in the query.",
		"innererror": map[string]any{"code": "SYN0002", "message": fmt.Sprintf("%s on line [%d,%d]", ke.Msg, line, col),
			"line": line, "pos": col - 1, "token": ke.Token},
	})
}

var laDurationRE = regexp.MustCompile(`^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// laDuration parses an ISO 8601 duration (PT12H, P1D, P1DT12H, P2W).
// Years and months are refused: their length depends on the date.
func laDuration(s string) (time.Duration, bool) {
	m := laDurationRE.FindStringSubmatch(strings.ToUpper(s))
	if m == nil || s == "P" || strings.HasSuffix(strings.ToUpper(s), "T") {
		return 0, false
	}
	units := []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second}
	var d time.Duration
	for i, u := range units {
		if m[i+1] == "" {
			continue
		}
		f, err := strconv.ParseFloat(m[i+1], 64)
		if err != nil || f > 1e6 {
			return 0, false
		}
		d += time.Duration(f * float64(u))
	}
	return d, true
}

// laTimespan reads the timespan parameter: a duration ending now, or
// start/end, start/duration or duration/end. Empty means no restriction
// beyond the query's own.
func laTimespan(s string, now time.Time) (from, to time.Time, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, time.Time{}, nil
	}
	bad := fmt.Errorf("timespan %q is not an ISO 8601 duration or interval", s)
	a, b, interval := strings.Cut(s, "/")
	if !interval {
		d, ok := laDuration(s)
		if !ok {
			return from, to, bad
		}
		return now.Add(-d), time.Time{}, nil
	}
	ta, aTime := kqlParseTime(a)
	tb, bTime := kqlParseTime(b)
	switch {
	case aTime && bTime:
		return ta, tb, nil
	case aTime:
		d, ok := laDuration(b)
		if !ok {
			return from, to, bad
		}
		return ta, ta.Add(d), nil
	case bTime:
		d, ok := laDuration(a)
		if !ok {
			return from, to, bad
		}
		return tb.Add(-d), tb, nil
	}
	return from, to, bad
}
