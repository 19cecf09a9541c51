-- +goose Up
-- Times are unix microseconds (BIGINT) on both databases so that one set of
-- queries serves SQLite and PostgreSQL without per-driver time parsing.

CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    dedup_key   TEXT    NOT NULL,
    source_id   TEXT    NOT NULL DEFAULT '',
    product     TEXT    NOT NULL DEFAULT '',
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    severity    TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    entities    TEXT    NOT NULL DEFAULT '[]',
    first_seen  BIGINT  NOT NULL,
    last_seen   BIGINT  NOT NULL,
    version     INTEGER NOT NULL,
    workitem_id BIGINT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    UNIQUE (source, dedup_key)
);

-- Append-only: rows are never updated or deleted. A rowid table, not
-- WITHOUT ROWID: version rows carry the raw payload and are large, which
-- WITHOUT ROWID tables store poorly.
CREATE TABLE alert_versions (
    alert_id    BIGINT  NOT NULL REFERENCES alerts (id),
    version     INTEGER NOT NULL,
    received_at BIGINT  NOT NULL,
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    severity    TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    entities    TEXT    NOT NULL DEFAULT '[]',
    last_seen   BIGINT  NOT NULL,
    raw         TEXT,
    PRIMARY KEY (alert_id, version)
);

CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    source_id   TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    severity    TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    first_seen  BIGINT  NOT NULL,
    last_seen   BIGINT  NOT NULL,
    version     INTEGER NOT NULL,
    workitem_id BIGINT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    UNIQUE (source, source_id)
);

CREATE TABLE incident_versions (
    incident_id BIGINT  NOT NULL REFERENCES incidents (id),
    version     INTEGER NOT NULL,
    received_at BIGINT  NOT NULL,
    title       TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    alert_ids   TEXT    NOT NULL DEFAULT '[]',
    raw         TEXT,
    PRIMARY KEY (incident_id, version)
);

CREATE TABLE incident_alerts (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    alert_id    BIGINT NOT NULL REFERENCES alerts (id),
    PRIMARY KEY (incident_id, alert_id)
) WITHOUT ROWID;
CREATE INDEX incident_alerts_alert ON incident_alerts (alert_id);

CREATE TABLE workitems (
    id          INTEGER PRIMARY KEY,
    type        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    assignee    TEXT    NOT NULL DEFAULT '',
    source      TEXT    NOT NULL DEFAULT '',
    rev         INTEGER NOT NULL DEFAULT 1,
    alert_count INTEGER NOT NULL DEFAULT 0,
    previous_id BIGINT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    last_seen   BIGINT  NOT NULL,
    closed_at   BIGINT
);
CREATE INDEX workitems_state ON workitems (state, id);

CREATE TABLE workitem_tags (
    workitem_id BIGINT NOT NULL REFERENCES workitems (id),
    tag         TEXT   NOT NULL,
    PRIMARY KEY (workitem_id, tag)
) WITHOUT ROWID;
CREATE INDEX workitem_tags_tag ON workitem_tags (tag, workitem_id);

CREATE TABLE workitem_alerts (
    workitem_id BIGINT NOT NULL REFERENCES workitems (id),
    alert_id    BIGINT NOT NULL REFERENCES alerts (id),
    linked_at   BIGINT NOT NULL,
    PRIMARY KEY (workitem_id, alert_id)
) WITHOUT ROWID;

CREATE TABLE workitem_incidents (
    workitem_id BIGINT NOT NULL REFERENCES workitems (id),
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    linked_at   BIGINT NOT NULL,
    PRIMARY KEY (workitem_id, incident_id)
) WITHOUT ROWID;

CREATE TABLE timeline (
    id          INTEGER PRIMARY KEY,
    workitem_id BIGINT NOT NULL REFERENCES workitems (id),
    at          BIGINT NOT NULL,
    actor       TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    message     TEXT   NOT NULL,
    reason      TEXT   NOT NULL DEFAULT '',
    data        TEXT
);
CREATE INDEX timeline_workitem ON timeline (workitem_id, id);

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY,
    workitem_id BIGINT NOT NULL REFERENCES workitems (id),
    at          BIGINT NOT NULL,
    author      TEXT   NOT NULL,
    body        TEXT   NOT NULL
);
CREATE INDEX comments_workitem ON comments (workitem_id, id);

CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY,
    workitem_id BIGINT  NOT NULL REFERENCES workitems (id),
    title       TEXT    NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0,
    done_by     TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX tasks_workitem ON tasks (workitem_id, id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT   NOT NULL,
    role         TEXT   NOT NULL,
    hash         TEXT   NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT   NOT NULL UNIQUE,
    role          TEXT   NOT NULL,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE users;
DROP TABLE api_tokens;
DROP TABLE tasks;
DROP TABLE comments;
DROP TABLE timeline;
DROP TABLE workitem_incidents;
DROP TABLE workitem_alerts;
DROP TABLE workitem_tags;
DROP TABLE workitems;
DROP TABLE incident_alerts;
DROP TABLE incident_versions;
DROP TABLE incidents;
DROP TABLE alert_versions;
DROP TABLE alerts;
