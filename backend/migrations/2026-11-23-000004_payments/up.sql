-- Payments: each buyer's Stripe Customer (cards are saved to it), each order's PaymentIntent, billing details, refunds, idempotency keys and webhook events.

ALTER TABLE orders
    ADD COLUMN payment_intent_id text UNIQUE,
    -- The PaymentIntent's status as last seen; `succeeded` and `canceled` are final.
    ADD COLUMN intent_status text,
    ADD COLUMN billing jsonb,
    ADD COLUMN completed_at timestamptz,
    -- Set while a refund is being asked of Stripe; cleared if Stripe refuses.
    ADD COLUMN refund_requested_at timestamptz,
    ADD COLUMN refund_id text,
    ADD COLUMN refunded_at timestamptz,
    ADD COLUMN refund_reason text
        CHECK (refund_reason IN ('requested_by_buyer', 'paid_after_hold_lapsed')),
    ADD CONSTRAINT orders_complete_has_time CHECK ((status = 'complete') <= (completed_at IS NOT NULL)),
    ADD CONSTRAINT orders_refunded_has_refund
        CHECK ((status = 'refunded') = (refunded_at IS NOT NULL AND refund_reason IS NOT NULL));

CREATE INDEX orders_unsettled_intent_idx ON orders (updated_at)
    WHERE payment_intent_id IS NOT NULL
      AND (intent_status IS NULL OR intent_status NOT IN ('succeeded', 'canceled'));

-- One idempotency key per order and Stripe write, stored before the write is sent, so a retry after a
-- crash or a timeout repeats the same key and Stripe performs the write once.
CREATE TABLE stripe_requests (
    idempotency_key text PRIMARY KEY,
    order_id        uuid NOT NULL REFERENCES orders (id),
    operation       text NOT NULL,
    created_at      timestamptz NOT NULL,
    UNIQUE (order_id, operation)
);

-- Webhook events already handled, recorded in the same transaction as their effect.
CREATE TABLE stripe_events (
    id          text PRIMARY KEY,
    kind        text NOT NULL,
    received_at timestamptz NOT NULL
);

ALTER TABLE users ADD COLUMN stripe_customer_id text UNIQUE;
