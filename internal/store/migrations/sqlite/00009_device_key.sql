-- +goose Up
-- Server-side secrets that vigil makes itself, once, such as the key that
-- signs the sign-in device cookies. Instances that share the database
-- share them: the first to start inserts, the others read what it wrote.
-- value is base64; it is never logged, shown or exported.
CREATE TABLE server_secrets (
    name       TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE server_secrets;
