-- +goose Up
-- A work item's due date (unix microseconds, as every time here): set on
-- the item page or the API, and written back as the remediation due date
-- of a Defender for Cloud recommendation's governance assignment.
ALTER TABLE workitems ADD COLUMN due_at BIGINT;

-- +goose Down
ALTER TABLE workitems DROP COLUMN due_at;
