-- +goose Up
-- Reports (issue "reports"). The report engine module keeps one row of
-- facts per work item, worked out from its timeline and pages: who
-- acknowledged it and when, when it closed and how it was classified, and
-- the spans it spent in each state (report.EncodeSpans). Reports over a period read the
-- facts of the items created in it; long periods read the daily roll-ups
-- instead, which the module rebuilds for each UTC day whose items changed.
CREATE TABLE report_items (
    workitem_id BIGINT  PRIMARY KEY,
    type        TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    assignee    TEXT    NOT NULL DEFAULT '',
    service     TEXT    NOT NULL DEFAULT '',
    rule        TEXT    NOT NULL DEFAULT '',
    alert_type  TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL,
    ack_at      BIGINT,
    ack_by      TEXT    NOT NULL DEFAULT '',
    closed_at   BIGINT,
    closed_by   TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL,
    state_since BIGINT  NOT NULL,
    class       TEXT    NOT NULL DEFAULT '',
    acted       INTEGER NOT NULL DEFAULT 0,
    reopened    INTEGER NOT NULL DEFAULT 0,
    merged      INTEGER NOT NULL DEFAULT 0,
    spans       TEXT    NOT NULL DEFAULT '',
    computed_at BIGINT  NOT NULL
);
CREATE INDEX report_items_created ON report_items (created_at);
CREATE INDEX report_items_open ON report_items (state_since) WHERE closed_at IS NULL;

-- One row per UTC day, dimension (all, severity, source, type, assignee,
-- service, rule, alert_type) and value: the day's items summed up, with
-- histograms of the durations (JSON).
CREATE TABLE report_daily (
    day   BIGINT NOT NULL,
    dim   TEXT   NOT NULL,
    value TEXT   NOT NULL,
    agg   TEXT   NOT NULL,
    PRIMARY KEY (day, dim, value)
);

-- The same per UTC calendar month, merged from the month's days: a long
-- period reads a month's row instead of thirty days'.
CREATE TABLE report_monthly (
    month BIGINT NOT NULL,
    dim   TEXT   NOT NULL,
    value TEXT   NOT NULL,
    agg   TEXT   NOT NULL,
    PRIMARY KEY (month, dim, value)
);

-- All items per UTC hour: a day cut by a viewer's local midnight is read
-- from its hours.
CREATE TABLE report_hourly (
    hour BIGINT PRIMARY KEY,
    agg  TEXT   NOT NULL
);

-- The cumulative flow: per quarter hour (unix µs / 900e6) and state, how
-- many items entered and left it. Quarter hours line up with the local
-- midnight of every time zone in use.
CREATE TABLE report_flow (
    q       BIGINT NOT NULL,
    state   TEXT   NOT NULL,
    entered BIGINT NOT NULL DEFAULT 0,
    exited  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (q, state)
);

-- The same per UTC day: a long period reads a day's row instead of its
-- 96 quarters wherever no bucket boundary falls inside the day.
CREATE TABLE report_flow_daily (
    day     BIGINT NOT NULL,
    state   TEXT   NOT NULL,
    entered BIGINT NOT NULL DEFAULT 0,
    exited  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, state)
);

-- On-call load reads a period's notifications and pages from these
-- indexes alone.
CREATE INDEX notification_log_created ON notification_log (created_at, page_id, user_email, status);
CREATE INDEX pages_created ON pages (created_at, ack_at, ack_by, step, rounds);
-- Suppression rules' hits per period.
CREATE INDEX alerts_suppressed ON alerts (suppressed_by, created_at) WHERE suppressed_by IS NOT NULL;

-- +goose Down
DROP INDEX alerts_suppressed;
DROP INDEX pages_created;
DROP INDEX notification_log_created;
DROP TABLE report_flow_daily;
DROP TABLE report_flow;
DROP TABLE report_hourly;
DROP TABLE report_monthly;
DROP TABLE report_daily;
DROP TABLE report_items;
