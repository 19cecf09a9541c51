-- +goose Up
-- The durable outbox of writes to external systems: rows are written in
-- the same transaction as the change that caused them.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    workitem_id BIGINT,
    target      TEXT    NOT NULL,
    op          TEXT    NOT NULL,
    resource    TEXT    NOT NULL,
    payload     TEXT    NOT NULL DEFAULT '{}',
    idem_key    TEXT    NOT NULL UNIQUE,
    state       TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     BIGINT  NOT NULL,
    lease_until BIGINT  NOT NULL DEFAULT 0,
    last_error  TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    done_at     BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_at);
CREATE INDEX outbox_workitem ON outbox (workitem_id, id);

-- +goose Down
DROP TABLE outbox;
