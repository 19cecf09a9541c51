-- +goose Up
-- Integration keys and the audit log (issue "security hardening").

-- An integration key lets one sender (Alertmanager, PagerDuty Events,
-- Azure Monitor or the native alert API) post alerts and do nothing else.
-- Like API tokens, only the SHA-256 of the secret is kept. prefix is the
-- secret's first characters, so that admins can tell keys apart in the
-- list without vigil keeping anything that signs in.
CREATE TABLE integration_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT   NOT NULL,
    source       TEXT   NOT NULL,
    hash         TEXT   NOT NULL UNIQUE,
    prefix       TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    created_by   TEXT   NOT NULL DEFAULT '',
    last_used_at BIGINT,
    revoked_at   BIGINT
);

-- The audit log: who did what to users, roles, tokens, keys and the
-- configuration. Rows are only ever added. detail is a JSON object and
-- never holds a secret.
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       BIGINT NOT NULL,
    actor    TEXT   NOT NULL,
    action   TEXT   NOT NULL,
    target   TEXT   NOT NULL DEFAULT '',
    detail   TEXT   NOT NULL DEFAULT '{}',
    ip       TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at, id);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE integration_keys;
