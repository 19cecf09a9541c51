-- +goose Up
-- Sign-in sessions and the user fields of the admin pages and of OpenID
-- Connect sign-in.

-- A browser session. Only the SHA-256 of its token is kept, so a copy of
-- the database does not sign anybody in. expires_at is the idle expiry,
-- never past created_at plus the absolute lifetime, so the janitor needs
-- one index to find every dead session.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    hash         TEXT   NOT NULL UNIQUE,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    user_agent   TEXT   NOT NULL DEFAULT '',
    ip           TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

ALTER TABLE users ADD COLUMN last_login_at BIGINT;
ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT '';
-- "issuer|subject" of a user who signs in through OpenID Connect; such a
-- user has no password. Unique, so that two first sign-ins of one identity
-- cannot create two users.
ALTER TABLE users ADD COLUMN external TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_external ON users (external) WHERE external <> '';

-- +goose Down
DROP INDEX users_external;
ALTER TABLE users DROP COLUMN external;
ALTER TABLE users DROP COLUMN name;
ALTER TABLE users DROP COLUMN last_login_at;
DROP TABLE sessions;
