-- +goose Up
-- Indicator administration (issue "enrichment and threat intelligence").
-- changed_at is when vigil last changed the row (a feed's upsert, an
-- analyst's expiry or allow-listing): every instance refreshes its
-- in-memory matcher from the rows changed since its last refresh, so
-- that an expiry or an allow-listing reaches all of them within a minute.
ALTER TABLE indicators ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX indicators_changed ON indicators (changed_at);

-- Values that must never match, whatever a feed says: a feed listing a
-- CDN's address or a partner's domain would otherwise raise noise on
-- every alert that mentions it. Kept apart from indicators so that a
-- feed re-sending the value does not undo the decision.
CREATE TABLE ti_allowlist (
    type       TEXT   NOT NULL,
    value      TEXT   NOT NULL,
    reason     TEXT   NOT NULL DEFAULT '',
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (type, value)
);

-- +goose Down
DROP TABLE ti_allowlist;
DROP INDEX indicators_changed;
ALTER TABLE indicators DROP COLUMN changed_at;
