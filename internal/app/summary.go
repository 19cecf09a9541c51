package app

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/report"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/summary"
)

// summaryEvery is how often the weekly summaries are checked: an email
// leaves at most this long after its hour (plus the outbox's tick).
const summaryEvery = time.Minute

// newSummaries builds the weekly summary module (nil when no summary is
// configured) and the outbox target that mails them through paging.smtp.
func newSummaries(cfg config.Config, db *store.DB, reports *report.Service, clk clock.Clock, log *slog.Logger) (*summary.Module, *summary.Target, error) {
	sc := cfg.Paging.SMTP
	mc := summary.SMTP{Host: sc.Host, Port: sc.Port, Username: sc.Username, Password: sc.Password, From: sc.From, TLS: sc.TLS}
	if sc.Host != "" && sc.CAFile != "" {
		pem, err := os.ReadFile(sc.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("paging.smtp.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("paging.smtp.ca_file %s: no certificate found", sc.CAFile)
		}
		mc.TLSConfig = &tls.Config{RootCAs: pool, ServerName: sc.Host, MinVersion: tls.VersionTLS12}
	}
	target, err := summary.NewTarget(mc)
	if err != nil {
		return nil, nil, fmt.Errorf("paging.smtp: %w", err)
	}
	sums, err := summarySchedules(cfg.Reports)
	if err != nil || len(sums) == 0 {
		return nil, target, err
	}
	m := summary.New(db, reports, sums, summary.Options{BaseURL: baseURL(cfg), Mail: target.Configured(), Clock: clk, Logger: log})
	return m, target, nil
}

// summarySchedules reads reports.summaries: each one's weekday and hour
// in its own time zone, else the reports', else UTC.
func summarySchedules(cfg config.Reports) ([]summary.Summary, error) {
	var sums []summary.Summary
	for i, s := range cfg.Summaries {
		day, ok := config.WeekdayOf(s.Weekday)
		if !ok {
			return nil, fmt.Errorf("reports.summaries[%d].weekday: %q is not a day of the week", i, s.Weekday)
		}
		zone := s.TimeZone
		if zone == "" {
			zone = cfg.TimeZone
		}
		loc := time.UTC
		if zone != "" {
			var err error
			if loc, err = time.LoadLocation(zone); err != nil {
				return nil, fmt.Errorf("reports.summaries[%d].time_zone: %w", i, err)
			}
		}
		sums = append(sums, summary.Summary{Team: s.Team, To: s.To, Schedule: summary.Schedule{Weekday: day, Hour: s.SendHour(), Loc: loc}})
	}
	return sums, nil
}
