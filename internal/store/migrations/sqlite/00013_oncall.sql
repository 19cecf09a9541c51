-- +goose Up
-- On-call (issue "on-call"). Schedules, escalation policies, services and
-- teams are definitions people write (JSON), kept in one table keyed by
-- kind and name, each change a new version. Contact methods and
-- notification rules belong to users (by email). A page is the on-call
-- side of one work item; at most one is open per item.
CREATE TABLE oncall_defs (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    definition TEXT    NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    updated_by TEXT    NOT NULL DEFAULT '',
    UNIQUE (kind, name)
);

CREATE TABLE contact_methods (
    id           INTEGER PRIMARY KEY,
    user_email   TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    value        TEXT    NOT NULL,
    name         TEXT    NOT NULL DEFAULT '',
    verified_at  BIGINT,
    code_hash    TEXT    NOT NULL DEFAULT '',
    code_expires BIGINT,
    created_at   BIGINT  NOT NULL,
    UNIQUE (user_email, type, value)
);

CREATE TABLE notification_rules (
    id                INTEGER PRIMARY KEY,
    user_email        TEXT    NOT NULL,
    contact_method_id BIGINT  NOT NULL REFERENCES contact_methods (id) ON DELETE CASCADE,
    delay_minutes     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (contact_method_id, delay_minutes)
);

-- A calendar feed is a secret URL; only the token's SHA-256 is kept.
CREATE TABLE calendar_feeds (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    created_by TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE pages (
    id          INTEGER PRIMARY KEY,
    service     TEXT    NOT NULL,
    workitem_id BIGINT  NOT NULL REFERENCES workitems (id),
    group_key   TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL,
    urgency     TEXT    NOT NULL,
    step        INTEGER NOT NULL DEFAULT 0,
    rounds      INTEGER NOT NULL DEFAULT 0,
    next_at     BIGINT,
    ack_by      TEXT    NOT NULL DEFAULT '',
    ack_at      BIGINT,
    resolved_at BIGINT,
    alerts      INTEGER NOT NULL DEFAULT 1,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE UNIQUE INDEX pages_open_item ON pages (workitem_id) WHERE state <> 'resolved';
CREATE INDEX pages_due ON pages (next_at) WHERE next_at IS NOT NULL;
CREATE INDEX pages_group ON pages (service, group_key) WHERE state <> 'resolved';

-- A heartbeat monitor's beats: its sender posts every few minutes; a
-- silent one pages.
CREATE TABLE heartbeats (
    name         TEXT   PRIMARY KEY,
    last_beat_at BIGINT NOT NULL
);

-- The Entra ID object id of users who signed in with Entra ID, from the
-- ID token's oid claim: a Sentinel incident's owner is set by it.
CREATE TABLE entra_identities (
    email      TEXT   PRIMARY KEY,
    object_id  TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE entra_identities;
DROP TABLE heartbeats;
DROP TABLE pages;
DROP TABLE calendar_feeds;
DROP TABLE notification_rules;
DROP TABLE contact_methods;
DROP TABLE oncall_defs;
