-- Orders: a buyer's hold on a listing, then its payment, completion, cancellation or refund.

CREATE TABLE orders (
    id            uuid PRIMARY KEY,
    buyer_id      uuid NOT NULL REFERENCES users (id),
    ticket_id     uuid NOT NULL REFERENCES tickets (id),
    -- Snapshot of the listing when reserved: later edits do not rewrite history.
    ticket_title  text NOT NULL,
    price         bigint NOT NULL CHECK (price > 0),
    -- Tax and total in minor units; the total is what is charged and shown.
    tax           bigint NOT NULL CHECK (tax >= 0),
    total         bigint NOT NULL,
    CHECK (total = price + tax),
    currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status        text NOT NULL
                  CHECK (status IN ('created', 'awaiting_payment', 'complete', 'cancelled', 'refunded')),
    cancel_reason text CHECK (cancel_reason IN ('expired', 'buyer_cancelled')),
    CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL)),
    expires_at    timestamptz NOT NULL,
    version       integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- The rule that a ticket is never held or sold twice, enforced by the database: at most one order per
-- ticket is live (held, being paid, or sold).
CREATE UNIQUE INDEX orders_one_live_per_ticket ON orders (ticket_id)
    WHERE status IN ('created', 'awaiting_payment', 'complete');

CREATE INDEX orders_buyer_idx ON orders (buyer_id, created_at DESC, id DESC);
CREATE INDEX orders_live_buyer_idx ON orders (buyer_id, expires_at)
    WHERE status IN ('created', 'awaiting_payment');

-- The order whose hold a held ticket is under; releasing a hold names it, so a late release of an old
-- hold can never free a newer one.
ALTER TABLE tickets ADD COLUMN hold_order_id uuid;
ALTER TABLE tickets ADD CONSTRAINT tickets_hold_names_its_order
    CHECK ((status = 'held') = (hold_order_id IS NOT NULL));

CREATE INDEX tickets_lapsing_idx ON tickets (held_until) WHERE status = 'held';
