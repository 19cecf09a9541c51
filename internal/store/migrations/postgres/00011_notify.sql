-- +goose Up
-- Live updates across instances (issue 12): every statement that writes
-- work items tells the other instances, which then read the changes with
-- ChangedSince at once instead of polling every second. The statement
-- level and the empty payload keep it cheap: PostgreSQL sends identical
-- notifications of one transaction once, at commit, so a batch of ingest
-- that touches a thousand items wakes each listener once. Comments,
-- moves and sync follow-ups all stamp workitems.updated_at, so this one
-- table covers everything the feed shows.
-- +goose StatementBegin
CREATE FUNCTION vigil_notify_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vigil_changes', '');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER workitems_notify_changes
    AFTER INSERT OR UPDATE ON workitems
    FOR EACH STATEMENT EXECUTE FUNCTION vigil_notify_changes();

-- +goose Down
DROP TRIGGER IF EXISTS workitems_notify_changes ON workitems;
DROP FUNCTION IF EXISTS vigil_notify_changes();
