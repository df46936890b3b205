-- Money under faults: when Stripe charged, refunds made outside the API, disputes, fenced outbox leases
-- and sign-in throttling per (account, address).

ALTER TABLE orders
    -- When Stripe charged the card (its charge's creation time): "late" is judged by this, not by
    -- when we heard of the payment.
    ADD COLUMN paid_at timestamptz,
    -- Attempts at the refund: a request whose answer was lost is settled from Stripe's list of the
    -- PaymentIntent's refunds; only when that shows none is a new attempt (with a new key) made.
    ADD COLUMN refund_attempts integer NOT NULL DEFAULT 0 CHECK (refund_attempts >= 0),
    -- A chargeback: open while the bank decides, then won (the sale stands) or lost (money returned).
    ADD COLUMN dispute_status text CHECK (dispute_status IN ('open', 'won', 'lost')),
    ADD COLUMN dispute_id text,
    ADD COLUMN disputed_at timestamptz,
    ADD CONSTRAINT orders_dispute_has_time CHECK ((dispute_status IS NULL) = (disputed_at IS NULL));

ALTER TABLE orders DROP CONSTRAINT orders_refund_reason_check;
ALTER TABLE orders ADD CONSTRAINT orders_refund_reason_check CHECK (refund_reason IN (
    'requested_by_buyer',      -- the buyer asked through the API
    'paid_after_hold_lapsed',  -- paid after the listing went elsewhere, or changed
    'refunded_at_stripe',      -- refunded in Stripe's dashboard, not through the API
    'dispute_lost'             -- the buyer's bank took the money back
));

CREATE INDEX orders_dispute_idx ON orders (dispute_id) WHERE dispute_id IS NOT NULL;

-- The lease of a claimed delivery: only the holder of the current token may record its outcome, so a
-- dispatcher whose lease ran out cannot overwrite the one that took over.
ALTER TABLE outbox_deliveries ADD COLUMN lease_token uuid;

CREATE INDEX outbox_deliveries_parked_idx ON outbox_deliveries (event_id) WHERE status = 'parked';

-- Failures per (account, address): an attacker elsewhere cannot lock the owner out.
DROP INDEX login_failures_email_idx;
CREATE INDEX login_failures_pair_idx ON login_failures (email_lower, client_addr, failed_at);
