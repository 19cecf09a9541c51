-- +goose Up
-- One incident seen through two APIs (issue "the Microsoft estate"): a
-- Sentinel incident of a workspace in the Defender portal is also a
-- Defender XDR incident in Graph's security/incidents. Sentinel names it
-- by providerIncidentId; both views carry link_key "xdr:<that id>", and
-- the store keeps one row (one work item) per link key.
ALTER TABLE incidents ADD COLUMN link_key TEXT NOT NULL DEFAULT '';
CREATE INDEX incidents_link_key ON incidents (link_key) WHERE link_key <> '';

-- +goose Down
DROP INDEX incidents_link_key;
ALTER TABLE incidents DROP COLUMN link_key;
