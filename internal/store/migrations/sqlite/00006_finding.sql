-- +goose Up
-- One finding, one work item (issue "trust fixes").

-- seen_count counts every receipt of an alert, re-sends included; an
-- unchanged re-send moves last_seen and this counter and adds no version.
ALTER TABLE alerts ADD COLUMN seen_count BIGINT NOT NULL DEFAULT 1;
-- firing identifies one firing of an alert where the sender has such a
-- thing (Alertmanager's startsAt): a different firing is a new firing.
ALTER TABLE alerts ADD COLUMN firing TEXT NOT NULL DEFAULT '';
-- item_due_at: an alert that may belong to an incident (a Defender for
-- Cloud alert while a Sentinel workspace is synced) waits this long for
-- its incident before it gets a Problem item of its own.
ALTER TABLE alerts ADD COLUMN item_due_at BIGINT;
CREATE INDEX alerts_item_due ON alerts (item_due_at) WHERE item_due_at IS NOT NULL;

-- key_entity is the entity the item's first alert leads with ("host
-- vm-web-01"), so that cards with one title can be told apart.
ALTER TABLE workitems ADD COLUMN key_entity TEXT NOT NULL DEFAULT '';
-- source_resolved_at: every alert of the item is resolved or dismissed
-- at its source (NULL while any is open there).
ALTER TABLE workitems ADD COLUMN source_resolved_at BIGINT;
-- merged_into: a Problem item folded into its incident's item.
ALTER TABLE workitems ADD COLUMN merged_into BIGINT;
-- The board searches entities as well as titles.
ALTER TABLE workitems ADD COLUMN search_text TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE workitems DROP COLUMN search_text;
ALTER TABLE workitems DROP COLUMN merged_into;
ALTER TABLE workitems DROP COLUMN source_resolved_at;
ALTER TABLE workitems DROP COLUMN key_entity;
DROP INDEX alerts_item_due;
ALTER TABLE alerts DROP COLUMN item_due_at;
ALTER TABLE alerts DROP COLUMN firing;
ALTER TABLE alerts DROP COLUMN seen_count;
