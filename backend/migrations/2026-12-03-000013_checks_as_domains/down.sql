ALTER TABLE listing_changes
    ALTER COLUMN kind TYPE text,
    ADD CONSTRAINT listing_changes_kind_check
        CHECK (kind IN ('listed', 'changed', 'held', 'released', 'sold', 'deleted'));

ALTER TABLE orders
    ALTER COLUMN cancel_reason TYPE text,
    ALTER COLUMN currency TYPE text,
    ALTER COLUMN dispute_status TYPE text,
    ALTER COLUMN price TYPE bigint,
    ALTER COLUMN refund_attempts TYPE integer,
    ALTER COLUMN refund_reason TYPE text,
    ALTER COLUMN status TYPE text,
    ALTER COLUMN tax TYPE bigint,
    ALTER COLUMN version TYPE integer,
    ADD CONSTRAINT orders_cancel_reason_check CHECK (cancel_reason IN ('expired', 'buyer_cancelled')),
    ADD CONSTRAINT orders_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    ADD CONSTRAINT orders_dispute_status_check CHECK (dispute_status IN ('open', 'won', 'lost')),
    ADD CONSTRAINT orders_price_check CHECK (price > 0),
    ADD CONSTRAINT orders_refund_attempts_check CHECK (refund_attempts >= 0),
    ADD CONSTRAINT orders_refund_reason_check CHECK (refund_reason IN (
        'requested_by_buyer', 'paid_after_hold_lapsed', 'refunded_at_stripe', 'dispute_lost')),
    ADD CONSTRAINT orders_status_check
        CHECK (status IN ('created', 'awaiting_payment', 'complete', 'cancelled', 'refunded')),
    ADD CONSTRAINT orders_tax_check CHECK (tax >= 0),
    ADD CONSTRAINT orders_version_check CHECK (version >= 1);

ALTER TABLE tickets
    ALTER COLUMN city TYPE text,
    ALTER COLUMN currency TYPE text,
    ALTER COLUMN face_value TYPE bigint,
    ALTER COLUMN file_bytes TYPE integer,
    ALTER COLUMN file_content_type TYPE text,
    ALTER COLUMN price TYPE bigint,
    ALTER COLUMN seat TYPE text,
    ALTER COLUMN seat_row TYPE text,
    ALTER COLUMN section TYPE text,
    ALTER COLUMN status TYPE text,
    ALTER COLUMN event_name TYPE text,
    ALTER COLUMN venue TYPE text,
    ALTER COLUMN version TYPE integer,
    ADD CONSTRAINT tickets_city_check CHECK (char_length(city) <= 80),
    ADD CONSTRAINT tickets_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    ADD CONSTRAINT tickets_face_value_range CHECK (face_value > 0 AND face_value <= 100000000),
    ADD CONSTRAINT tickets_file_bytes_check CHECK (file_bytes >= 1 AND file_bytes <= 2097152),
    ADD CONSTRAINT tickets_file_content_type_check
        CHECK (file_content_type IN ('application/pdf', 'image/png', 'image/jpeg')),
    ADD CONSTRAINT tickets_price_check CHECK (price > 0 AND price <= 100000000),
    ADD CONSTRAINT tickets_seat_check CHECK (char_length(seat) >= 1 AND char_length(seat) <= 40),
    ADD CONSTRAINT tickets_seat_row_check CHECK (char_length(seat_row) >= 1 AND char_length(seat_row) <= 40),
    ADD CONSTRAINT tickets_section_check CHECK (char_length(section) >= 1 AND char_length(section) <= 40),
    ADD CONSTRAINT tickets_status_check CHECK (status IN ('available', 'held', 'sold')),
    ADD CONSTRAINT tickets_title_check CHECK (char_length(event_name) >= 1 AND char_length(event_name) <= 120),
    ADD CONSTRAINT tickets_venue_check CHECK (char_length(venue) <= 120),
    ADD CONSTRAINT tickets_version_check CHECK (version >= 1);

DROP DOMAIN listing_change_kind, attempt_count, non_negative_amount, positive_amount, dispute_status,
    refund_reason, cancel_reason, order_status, ticket_file_size, ticket_file_type, seat_part, city_name,
    venue_name, event_name, listing_status, listed_amount, row_version, currency_code;
