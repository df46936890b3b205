-- Accounts: users, their sessions, and failed sign-in attempts used for throttling.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);

-- Email addresses are unique regardless of case; the database enforces it.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE sessions (
    id           uuid PRIMARY KEY,
    -- SHA-256 of the opaque token; the token itself is never stored.
    token_hash   bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE login_failures (
    id           bigserial PRIMARY KEY,
    email_lower  text NOT NULL,
    client_addr  text NOT NULL,
    failed_at    timestamptz NOT NULL
);

CREATE INDEX login_failures_email_idx ON login_failures (email_lower, failed_at);
CREATE INDEX login_failures_addr_idx ON login_failures (client_addr, failed_at);
