-- +goose Up
-- The board's live updates poll for items changed since a moment.
CREATE INDEX workitems_updated ON workitems (updated_at);

-- +goose Down
DROP INDEX workitems_updated;
