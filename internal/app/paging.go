package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/engine"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// notifyTarget builds the outbox target of notifications: email when an
// SMTP server is configured, and signed webhooks, whose secrets the
// pager derives.
func notifyTarget(cfg config.Paging, base string, pager *paging.Pager, ledger notify.Ledger, clk clock.Clock, log *slog.Logger) (*notify.Target, error) {
	limits, err := rateLimits(cfg.RateLimits)
	if err != nil {
		return nil, err
	}
	chs := []notify.Channel{}
	if cfg.SMTP.Host != "" {
		ec := notify.EmailConfig{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username, Password: cfg.SMTP.Password,
			From: cfg.SMTP.From, TLS: cfg.SMTP.TLS, Clock: clk}
		if cfg.SMTP.CAFile != "" {
			pem, err := os.ReadFile(cfg.SMTP.CAFile)
			if err != nil {
				return nil, fmt.Errorf("paging.smtp.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("paging.smtp.ca_file %s: no certificate found", cfg.SMTP.CAFile)
			}
			ec.TLSConfig = &tls.Config{RootCAs: pool, ServerName: cfg.SMTP.Host, MinVersion: tls.VersionTLS12}
		}
		email, err := notify.NewEmail(ec)
		if err != nil {
			return nil, fmt.Errorf("paging.smtp: %w", err)
		}
		chs = append(chs, email)
	} else {
		log.Info("paging: no SMTP server configured (paging.smtp.host): email contact methods get nothing")
	}
	wh, err := notify.NewWebhook(notify.WebhookConfig{Secret: pager.WebhookSecret, Clock: clk})
	if err != nil {
		return nil, fmt.Errorf("webhook channel: %w", err)
	}
	chs = append(chs, wh)
	more, err := phoneChannels(cfg, base, clk, log)
	if err != nil {
		return nil, err
	}
	chs = append(chs, more...)
	return notify.NewTarget(chs...).Prepare(pager.Prepare).Record(pager, clk.Now, log).Limit(ledger, limits), nil
}

// observers fans the items service's committed changes out to several
// observers (the rules' update triggers, paging).
type observers []workitem.Observer

func (os observers) Changed(ctx context.Context, c workitem.Change) {
	for _, o := range os {
		o.Changed(ctx, c)
	}
}

// pokeOnChange is an items observer that wakes an engine module.
type pokeOnChange func()

func (p pokeOnChange) Changed(context.Context, workitem.Change) { p() }

// enginePoker wakes an engine module from code built before the engine
// (the pager wakes the outbox sender when it queues notifications).
type enginePoker struct{ e atomic.Pointer[engine.Engine] }

func (p *enginePoker) poke(name string) func() {
	return func() {
		if e := p.e.Load(); e != nil {
			e.Poke(name)
		}
	}
}

// baseURL is where people reach vigil, for links in notifications:
// paging.base_url, or the listen address over http.
func baseURL(cfg config.Config) string {
	if cfg.Paging.BaseURL != "" {
		return cfg.Paging.BaseURL
	}
	// A wildcard listen address is reached on loopback here; anyone
	// further away needs paging.base_url.
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		return "http://127.0.0.1:" + port
	}
	return "http://" + cfg.Listen
}

// connectorHealth is what the pager's connector monitor reads of the
// connectors' health: a connector whose last pass failed has been
// failing since its last success (since start, if it never succeeded).
func connectorHealth(ss []engine.Status, now time.Time) []paging.Health {
	out := make([]paging.Health, 0, len(ss))
	for _, s := range ss {
		h := paging.Health{Name: s.Name, LastError: s.LastError}
		if s.LastError != "" && s.ConsecutiveFailures > 0 {
			h.FailingSince = s.LastSuccess
			if h.FailingSince.IsZero() {
				h.FailingSince = processStart
			}
		}
		out = append(out, h)
	}
	return out
}

// processStart stands for "since start" for a connector that never
// succeeded.
var processStart = time.Now()

// sentinelOwners makes a vigil assignee a Sentinel owner: by the Entra
// ID object id they signed in with, when they did, and by the email
// Sentinel knows them by (paging.sentinel_owners) or their own.
type sentinelOwners struct {
	db interface {
		EntraObjectID(ctx context.Context, email string) (string, error)
	}
	emails map[string]string
}

func (o sentinelOwners) SentinelOwner(ctx context.Context, assignee string) (sentinel.OwnerPayload, error) {
	p := sentinel.OwnerPayload{Email: assignee}
	if e, ok := o.emails[strings.ToLower(assignee)]; ok && e != "" {
		p.Email = e
	}
	oid, err := o.db.EntraObjectID(ctx, assignee)
	if err != nil {
		return p, err
	}
	p.ObjectID = oid
	return p, nil
}
