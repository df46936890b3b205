-- Sellers get paid (Stripe Connect): each seller's connected account, and a ledger row per completed
-- order saying how its total splits and where the seller's share stands.

CREATE TABLE seller_accounts (
    user_id            uuid PRIMARY KEY REFERENCES users (id),
    -- The idempotency key of the account's creation, stored before the call: a retry after a lost
    -- answer gets the same account, never a second one.
    create_key         text NOT NULL,
    stripe_account_id  text UNIQUE,
    -- As Stripe last said (`account.updated`): onboarding finished, payouts to the bank enabled,
    -- transfers to the account possible, and what Stripe still needs.
    details_submitted  boolean NOT NULL DEFAULT false,
    payouts_enabled    boolean NOT NULL DEFAULT false,
    transfers_active   boolean NOT NULL DEFAULT false,
    requirements_due   text[] NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

-- The ledger's amounts must be the order's: (id, price, tax, total) is referenced as a whole.
ALTER TABLE orders ADD CONSTRAINT orders_amounts_key UNIQUE (id, price, tax, total);

CREATE TABLE payouts (
    order_id            uuid PRIMARY KEY,
    seller_id           uuid NOT NULL REFERENCES users (id),
    currency            text NOT NULL,
    -- What the buyer paid: price + tax. Tax stays with the platform, which remits it.
    total               bigint NOT NULL,
    price               bigint NOT NULL,
    tax                 bigint NOT NULL,
    -- The platform's fee when the sale was made, in thousandths of a percent of the price
    -- (10% is 10000), and what it came to: price * rate rounded half up; the seller gets the rest.
    fee_milli_percent   integer NOT NULL CHECK (fee_milli_percent BETWEEN 0 AND 100000),
    platform_fee        bigint NOT NULL,
    seller_share        bigint NOT NULL,
    -- pending: waiting for the refund window to close (due_at); awaiting_account: due, but the
    -- seller's account cannot take transfers yet; paid: transferred; cancelled: refunded before any
    -- transfer; reversed: refunded after the transfer, which was reversed.
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'awaiting_account', 'paid', 'cancelled', 'reversed')),
    due_at              timestamptz NOT NULL,
    -- Attempts at the transfer: each has a key of its own; before a new one, Stripe's list of the
    -- order's transfer group says whether an earlier one went through. An attempt in flight is
    -- claimed (attempt_started_at) so no two workers make one each.
    transfer_attempts   integer NOT NULL DEFAULT 0 CHECK (transfer_attempts >= 0),
    attempt_started_at  timestamptz,
    transfer_id         text UNIQUE,
    transferred_at      timestamptz,
    reversal_id         text,
    reversed_at         timestamptz,
    last_error          text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    FOREIGN KEY (order_id, price, tax, total) REFERENCES orders (id, price, tax, total),
    -- Every part is whole minor units, none negative, and the parts add up to what was charged.
    CONSTRAINT payouts_parts_add_up CHECK (
        price >= 0 AND tax >= 0 AND platform_fee >= 0 AND seller_share >= 0
        AND price + tax = total AND platform_fee + seller_share = price),
    CONSTRAINT payouts_transfer_recorded CHECK (
        (status IN ('paid', 'reversed')) = (transfer_id IS NOT NULL AND transferred_at IS NOT NULL)),
    CONSTRAINT payouts_reversal_recorded CHECK (
        (status = 'reversed') = (reversal_id IS NOT NULL AND reversed_at IS NOT NULL))
);

CREATE INDEX payouts_seller_idx ON payouts (seller_id);

-- Sales completed before payouts existed are carried forward by this rule: recorded at the default
-- fee (10%, rounded half up), due at their event's start (or at once for sales without one), with
-- the `payout.due` event of each, so their sellers are paid like everyone else.
INSERT INTO payouts (order_id, seller_id, currency, total, price, tax, fee_milli_percent, platform_fee,
                     seller_share, due_at, created_at, updated_at)
SELECT o.id, t.owner_id, o.currency, o.total, o.price, o.tax, 10000,
       (o.price * 10000 + 50000) / 100000,
       o.price - (o.price * 10000 + 50000) / 100000,
       GREATEST(COALESCE(o.event_starts_at, o.completed_at, o.updated_at), COALESCE(o.completed_at, o.updated_at)),
       now(), now()
FROM orders o JOIN tickets t ON t.id = o.ticket_id
WHERE o.status = 'complete';

WITH due AS (
    INSERT INTO outbox_events (kind, aggregate_id, payload, created_at)
    SELECT 'payout.due', p.order_id,
           jsonb_build_object('type', 'payout.due', 'orderId', p.order_id, 'sellerId', p.seller_id), now()
    FROM payouts p
    RETURNING id, aggregate_id
)
INSERT INTO outbox_deliveries (event_id, consumer, next_attempt_at)
SELECT due.id, 'payouts.transfer', p.due_at FROM due JOIN payouts p ON p.order_id = due.aggregate_id;
