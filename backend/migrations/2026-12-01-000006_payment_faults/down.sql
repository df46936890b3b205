DROP INDEX login_failures_pair_idx;
CREATE INDEX login_failures_email_idx ON login_failures (email_lower, failed_at);
DROP INDEX outbox_deliveries_parked_idx;
ALTER TABLE outbox_deliveries DROP COLUMN lease_token;
DROP INDEX orders_dispute_idx;
ALTER TABLE orders DROP CONSTRAINT orders_refund_reason_check;
UPDATE orders SET refund_reason = 'requested_by_buyer'
    WHERE refund_reason IN ('refunded_at_stripe', 'dispute_lost');
ALTER TABLE orders ADD CONSTRAINT orders_refund_reason_check
    CHECK (refund_reason IN ('requested_by_buyer', 'paid_after_hold_lapsed'));
ALTER TABLE orders
    DROP CONSTRAINT orders_dispute_has_time,
    DROP COLUMN disputed_at,
    DROP COLUMN dispute_id,
    DROP COLUMN dispute_status,
    DROP COLUMN refund_attempts,
    DROP COLUMN paid_at;
