-- +goose Up
-- Threat intelligence (issue "enrichment and threat intelligence"). One row
-- per indicator (type and normalised value), merged across feeds.
CREATE TABLE indicators (
    type        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    feeds       TEXT    NOT NULL DEFAULT '[]',
    confidence  INTEGER NOT NULL DEFAULT 0,
    tags        TEXT    NOT NULL DEFAULT '[]',
    first_seen  BIGINT  NOT NULL,
    last_seen   BIGINT  NOT NULL,
    valid_until BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (type, value)
);

-- Each feed's cursor and its last pass.
CREATE TABLE ti_feeds (
    name        TEXT    PRIMARY KEY,
    feed_cursor TEXT    NOT NULL DEFAULT '',
    last_run_at BIGINT  NOT NULL DEFAULT 0,
    last_ok_at  BIGINT  NOT NULL DEFAULT 0,
    added       INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT    NOT NULL DEFAULT ''
);

-- An item's entity matched an indicator: once per item and indicator.
CREATE TABLE ti_matches (
    id          INTEGER PRIMARY KEY,
    workitem_id BIGINT  NOT NULL,
    alert_id    BIGINT  NOT NULL,
    entity      TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    feeds       TEXT    NOT NULL DEFAULT '[]',
    confidence  INTEGER NOT NULL DEFAULT 0,
    via         TEXT    NOT NULL DEFAULT '',
    retro       BOOLEAN NOT NULL DEFAULT FALSE,
    matched_at  BIGINT  NOT NULL,
    UNIQUE (workitem_id, type, value)
);
CREATE INDEX ti_matches_value ON ti_matches (type, value);

-- +goose Down
DROP TABLE ti_matches;
DROP TABLE ti_feeds;
DROP TABLE indicators;
