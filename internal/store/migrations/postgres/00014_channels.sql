-- +goose Up
-- Notification channels (issue "channels"). The notification log has one
-- row per notification (one message to one contact method): each send
-- attempt and each delivery callback from the provider updates it.
CREATE TABLE notification_log (
    id                TEXT    PRIMARY KEY,
    contact_method_id BIGINT  NOT NULL,
    user_email        TEXT    NOT NULL DEFAULT '',
    channel           TEXT    NOT NULL,
    kind              TEXT    NOT NULL,
    page_id           BIGINT  NOT NULL DEFAULT 0,
    workitem_id       BIGINT  NOT NULL DEFAULT 0,
    provider          TEXT    NOT NULL DEFAULT '',
    provider_id       TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL,
    error             TEXT    NOT NULL DEFAULT '',
    attempts          INTEGER NOT NULL DEFAULT 0,
    send_us           BIGINT  NOT NULL DEFAULT 0,
    created_at        BIGINT  NOT NULL,
    sent_at           BIGINT,
    updated_at        BIGINT  NOT NULL
);
CREATE INDEX notification_log_provider ON notification_log (provider, provider_id);
CREATE INDEX notification_log_page ON notification_log (page_id);
CREATE INDEX notification_log_user ON notification_log (user_email, created_at);
-- Rate limits count what was sent to a contact method, and on a channel,
-- in a recent window.
CREATE INDEX notification_log_method_sent ON notification_log (contact_method_id, sent_at);
CREATE INDEX notification_log_channel_sent ON notification_log (channel, sent_at);
-- Bundling finds the notifications waiting for one contact method.
CREATE INDEX outbox_resource ON outbox (resource, state);

-- Inbound provider requests already acted on (an SMS's message sid, a
-- call's sid and digits): a replayed request is refused.
CREATE TABLE inbound_seen (
    provider TEXT   NOT NULL,
    seen_key TEXT   NOT NULL,
    seen_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, seen_key)
);

-- +goose Down
DROP INDEX outbox_resource;
DROP TABLE inbound_seen;
DROP TABLE notification_log;
