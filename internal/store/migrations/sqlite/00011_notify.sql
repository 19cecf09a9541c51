-- +goose Up
-- PostgreSQL's 00011 adds a trigger that notifies other instances of
-- work-item changes. SQLite runs one process, whose change feed is poked
-- in process; this empty migration keeps the two version sequences alike.

-- +goose Down
