-- +goose Up
-- Two-way sync state.

-- Where an incident lives at its source (the Sentinel incident's ARM id),
-- so that a write-back can address it.
ALTER TABLE incidents ADD COLUMN ref TEXT NOT NULL DEFAULT '';
CREATE INDEX incidents_status ON incidents (source, status, id);

-- An incident's member alerts by source and source id, including alerts
-- of other sources (a Sentinel incident of Defender for Cloud origin
-- names Defender alerts) and alerts vigil has not seen yet, with the
-- status the incident's service showed for each.
CREATE TABLE incident_members (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    source      TEXT   NOT NULL,
    source_id   TEXT   NOT NULL,
    status      TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (incident_id, source, source_id)
);

-- Which record in an external tracker mirrors a work item.
CREATE TABLE external_refs (
    workitem_id BIGINT NOT NULL,
    system      TEXT   NOT NULL,
    ref         TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (workitem_id, system),
    UNIQUE (system, ref)
);

-- Pollers' watermarks and other small sync state, by name.
CREATE TABLE sync_cursors (
    name       TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE sync_cursors;
DROP TABLE external_refs;
DROP TABLE incident_members;
DROP INDEX incidents_status;
ALTER TABLE incidents DROP COLUMN ref;
