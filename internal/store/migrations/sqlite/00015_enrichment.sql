-- +goose Up
-- Enrichment (issue "enrichment"): one row per provider report on one
-- observable, asked for by one work item. A row that reused a fresh
-- report of the same observable (the cache) says so, and does not count
-- toward the provider's quota.
CREATE TABLE enrichments (
    id          INTEGER PRIMARY KEY,
    workitem_id BIGINT  NOT NULL,
    provider    TEXT    NOT NULL,
    data_type   TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    verdict     TEXT    NOT NULL,
    summary     TEXT    NOT NULL DEFAULT '',
    taxonomies  TEXT    NOT NULL DEFAULT '[]',
    report      TEXT    NOT NULL DEFAULT '{}',
    cached      BOOLEAN NOT NULL DEFAULT FALSE,
    request_key TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    UNIQUE (request_key)
);
CREATE INDEX enrichments_observable ON enrichments (provider, data_type, data, created_at);
CREATE INDEX enrichments_workitem ON enrichments (workitem_id, id);
CREATE INDEX enrichments_calls ON enrichments (provider, cached, created_at);

-- +goose Down
DROP TABLE enrichments;
