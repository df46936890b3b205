-- Listings and the transactional outbox that carries the events their changes cause.

CREATE TABLE tickets (
    id          uuid PRIMARY KEY,
    owner_id    uuid NOT NULL REFERENCES users (id),
    title       text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 120),
    -- Integer minor units (cents); never a float.
    price       bigint NOT NULL CHECK (price > 0 AND price <= 100000000),
    currency    text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status      text NOT NULL DEFAULT 'available'
                CHECK (status IN ('available', 'held', 'sold')),
    CHECK ((status = 'held') = (held_until IS NOT NULL)),
    -- While held, the hold's end; a hold whose end has passed counts as available.
    held_until  timestamptz,
    version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz
);

CREATE INDEX tickets_listed_idx ON tickets (created_at DESC, id DESC)
    WHERE status <> 'sold' AND deleted_at IS NULL;
CREATE INDEX tickets_owner_idx ON tickets (owner_id);

CREATE TABLE outbox_events (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    aggregate_id uuid NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL
);

-- One row per event and consumer: each consumer's progress is tracked on its own.
CREATE TABLE outbox_deliveries (
    event_id        bigint NOT NULL REFERENCES outbox_events (id) ON DELETE CASCADE,
    consumer        text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'parked')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    delivered_at    timestamptz,
    PRIMARY KEY (event_id, consumer)
);

CREATE INDEX outbox_deliveries_due_idx ON outbox_deliveries (next_attempt_at)
    WHERE status = 'pending';
