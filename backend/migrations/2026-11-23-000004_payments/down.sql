ALTER TABLE users DROP COLUMN stripe_customer_id;
DROP TABLE stripe_events;
DROP TABLE stripe_requests;
DROP INDEX orders_unsettled_intent_idx;
ALTER TABLE orders
    DROP CONSTRAINT orders_refunded_has_refund,
    DROP CONSTRAINT orders_complete_has_time,
    DROP COLUMN refund_reason,
    DROP COLUMN refunded_at,
    DROP COLUMN refund_id,
    DROP COLUMN refund_requested_at,
    DROP COLUMN completed_at,
    DROP COLUMN billing,
    DROP COLUMN intent_status,
    DROP COLUMN payment_intent_id;
