-- +goose Up
-- Automation rules (issue "automation rules"). definition is the rule as
-- users write it (JSON of automation.Definition); every change adds a
-- version with who made it. hits, closed and suppressed count what the
-- rule did; last_error is its newest evaluation error.
CREATE TABLE automation_rules (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    version       INTEGER NOT NULL DEFAULT 1,
    position      INTEGER NOT NULL DEFAULT 0,
    enabled       INTEGER NOT NULL DEFAULT 0,
    definition    TEXT    NOT NULL,
    expires_at    BIGINT,
    created_at    BIGINT  NOT NULL,
    created_by    TEXT    NOT NULL DEFAULT '',
    updated_at    BIGINT  NOT NULL,
    updated_by    TEXT    NOT NULL DEFAULT '',
    hits          BIGINT  NOT NULL DEFAULT 0,
    closed        BIGINT  NOT NULL DEFAULT 0,
    suppressed    BIGINT  NOT NULL DEFAULT 0,
    last_hit_at   BIGINT,
    last_error    TEXT    NOT NULL DEFAULT '',
    last_error_at BIGINT
);

CREATE TABLE automation_rule_versions (
    rule_id    BIGINT  NOT NULL REFERENCES automation_rules (id),
    version    INTEGER NOT NULL,
    definition TEXT    NOT NULL,
    changed_at BIGINT  NOT NULL,
    changed_by TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (rule_id, version)
);

-- A suppressed alert is stored and counted, with no work item; it names
-- the rule that suppressed it.
ALTER TABLE alerts ADD COLUMN suppressed_by BIGINT;

-- +goose Down
ALTER TABLE alerts DROP COLUMN suppressed_by;
DROP TABLE automation_rule_versions;
DROP TABLE automation_rules;
