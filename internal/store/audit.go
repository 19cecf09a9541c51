package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// AuditEntry is one admin action in the audit log: who (Actor, from IP)
// did what (Action, e.g. "user.added") to what (Target, e.g. an email or
// "token:7"). Detail never holds a secret; the caller sees to that.
type AuditEntry struct {
	ID     int64          `json:"id"`
	At     time.Time      `json:"at"`
	Actor  string         `json:"actor"`
	Action string         `json:"action"`
	Target string         `json:"target"`
	Detail map[string]any `json:"detail"`
	IP     string         `json:"ip,omitempty"`
}

// AuditFilter selects audit entries. Zero fields do not filter.
type AuditFilter struct {
	Action string
	Actor  string
	After  int64 // keyset cursor: IDs below this, newest first
	Limit  int
}

// Bounds of what an audit entry keeps of its fields, so that a careless
// caller cannot grow the log without limit.
const (
	auditMaxField  = 512
	auditMaxDetail = 16 << 10
)

// RecordAudit adds an entry to the audit log. At defaults to now. The log
// is only ever added to: there is no update or delete.
func (db *DB) RecordAudit(ctx context.Context, e AuditEntry) error {
	if strings.TrimSpace(e.Actor) == "" {
		return validation.NewFieldError("actor", "is required")
	}
	if strings.TrimSpace(e.Action) == "" {
		return validation.NewFieldError("action", "is required")
	}
	if e.At.IsZero() {
		e.At = db.clock.Now()
	}
	detail := []byte("{}")
	if len(e.Detail) > 0 {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return fmt.Errorf("record audit %s: detail: %w", e.Action, err)
		}
		if len(b) > auditMaxDetail {
			return validation.NewFieldError("detail", "is %d bytes, more than %d", len(b), auditMaxDetail)
		}
		detail = b
	}
	err := db.tx(ctx, func(tx dbtx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO audit_log (at, actor, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?)`),
			us(e.At), auditClip(e.Actor, auditMaxField), auditClip(e.Action, auditMaxField), auditClip(e.Target, auditMaxField),
			string(detail), auditClip(e.IP, 64))
		return err
	})
	if err != nil {
		return fmt.Errorf("record audit %s: %w", e.Action, err)
	}
	return nil
}

const auditColumns = "id, at, actor, action, target, detail, ip"

// ListAudit returns audit entries matching f, newest first.
func (db *DB) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if err := checkFilterTexts("action", f.Action, "actor", f.Actor); err != nil {
		return nil, err
	}
	var c conds
	c.eq("action", f.Action)
	c.eq("actor", f.Actor)
	c.before(f.After)
	return queryAll(ctx, db, "audit log", c.page(auditColumns, "audit_log", f.Limit), c.args, scanAudit)
}

// LastAudit returns the newest entry with action, or ok false when there
// is none; startup compares the configuration with the last one recorded.
func (db *DB) LastAudit(ctx context.Context, action string) (AuditEntry, bool, error) {
	es, err := db.ListAudit(ctx, AuditFilter{Action: action, Limit: 1})
	if err != nil || len(es) == 0 {
		return AuditEntry{}, false, err
	}
	return es[0], true, nil
}

func scanAudit(s scanner) (AuditEntry, error) {
	var (
		e      AuditEntry
		at     int64
		detail string
	)
	if err := s.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &detail, &e.IP); err != nil {
		return e, err
	}
	e.At = fromUS(at)
	e.Detail = map[string]any{}
	if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
		return e, fmt.Errorf("audit entry %d detail: %w", e.ID, err)
	}
	return e, nil
}

// auditClip cuts s to at most n bytes without splitting a character.
func auditClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
