-- Waitlists: buyers in line for a held listing. When its hold ends without a sale, or a refunded
-- sale puts it back, the first in line who may hold it gets a hold of their own at once
-- (`waitlist::offer`), in the same transaction, so the ticket is never on the market meanwhile.
CREATE TABLE waitlist (
    ticket_id     uuid NOT NULL REFERENCES tickets (id),
    user_id       uuid NOT NULL REFERENCES users (id),
    joined_at     timestamptz NOT NULL,
    -- The order of joining.
    line_position bigserial NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
);

CREATE INDEX waitlist_line_idx ON waitlist (ticket_id, line_position);
CREATE INDEX waitlist_user_idx ON waitlist (user_id);

-- The rules a hold given from a waitlist follows, as the servers apply them to reservations
-- (HOLD_DURATION, MAX_LIVE_HOLDS, TAX_RATE_PERCENT): each server writes them when it starts, since
-- a hand-over can happen in any transaction that ends a hold. One row.
CREATE TABLE hold_rules (
    id                boolean PRIMARY KEY DEFAULT true CHECK (id),
    hold_seconds      bigint NOT NULL CHECK (hold_seconds > 0),
    max_live_holds    bigint NOT NULL CHECK (max_live_holds >= 0),
    tax_milli_percent bigint NOT NULL CHECK (tax_milli_percent >= 0)
);
