-- +goose Up
-- The engine's record of each background module (issue "one engine").
-- On PostgreSQL an instance runs a module's pass while it holds the
-- module's row lock (taken NOWAIT, so others skip rather than queue);
-- last_start says when a pass last began, so that no other instance runs
-- it again within the module's interval; version is the newest release's
-- version of the module, and older releases stand it down. SQLite runs
-- one process and only records.
CREATE TABLE engine_modules (
    name         TEXT    NOT NULL PRIMARY KEY,
    version      INTEGER NOT NULL DEFAULT 0,
    holder       TEXT    NOT NULL DEFAULT '',
    last_start   BIGINT  NOT NULL DEFAULT 0,
    last_end     BIGINT  NOT NULL DEFAULT 0,
    last_success BIGINT  NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE engine_modules;
