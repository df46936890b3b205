-- The rules on single columns of the tables every reservation writes, as domains rather than table
-- CHECK constraints. PostgreSQL reads a table's CHECK constraints back from their stored text at
-- every INSERT and UPDATE, and evaluates all of them whatever the statement sets; a domain's check is
-- kept compiled with its type and is evaluated only where a value of that type is written. The rules
-- are the same ones, on the same columns; the rules across columns stay table constraints.
CREATE DOMAIN currency_code AS text CHECK (VALUE ~ '^[A-Z]{3}$');
CREATE DOMAIN row_version AS integer CHECK (VALUE >= 1);
-- A listing's price or face value, in minor units.
CREATE DOMAIN listed_amount AS bigint CHECK (VALUE > 0 AND VALUE <= 100000000);
CREATE DOMAIN listing_status AS text CHECK (VALUE IN ('available', 'held', 'sold'));
CREATE DOMAIN event_name AS text CHECK (char_length(VALUE) >= 1 AND char_length(VALUE) <= 120);
CREATE DOMAIN venue_name AS text CHECK (char_length(VALUE) <= 120);
CREATE DOMAIN city_name AS text CHECK (char_length(VALUE) <= 80);
-- A section, row or seat.
CREATE DOMAIN seat_part AS text CHECK (char_length(VALUE) >= 1 AND char_length(VALUE) <= 40);
CREATE DOMAIN ticket_file_type AS text CHECK (VALUE IN ('application/pdf', 'image/png', 'image/jpeg'));
CREATE DOMAIN ticket_file_size AS integer CHECK (VALUE >= 1 AND VALUE <= 2097152);
CREATE DOMAIN order_status AS text
    CHECK (VALUE IN ('created', 'awaiting_payment', 'complete', 'cancelled', 'refunded'));
CREATE DOMAIN cancel_reason AS text CHECK (VALUE IN ('expired', 'buyer_cancelled'));
CREATE DOMAIN refund_reason AS text
    CHECK (VALUE IN ('requested_by_buyer', 'paid_after_hold_lapsed', 'refunded_at_stripe', 'dispute_lost'));
CREATE DOMAIN dispute_status AS text CHECK (VALUE IN ('open', 'won', 'lost'));
CREATE DOMAIN positive_amount AS bigint CHECK (VALUE > 0);
CREATE DOMAIN non_negative_amount AS bigint CHECK (VALUE >= 0);
CREATE DOMAIN attempt_count AS integer CHECK (VALUE >= 0);
CREATE DOMAIN listing_change_kind AS text
    CHECK (VALUE IN ('listed', 'changed', 'held', 'released', 'sold', 'deleted'));

ALTER TABLE tickets
    DROP CONSTRAINT tickets_city_check,
    DROP CONSTRAINT tickets_currency_check,
    DROP CONSTRAINT tickets_face_value_range,
    DROP CONSTRAINT tickets_file_bytes_check,
    DROP CONSTRAINT tickets_file_content_type_check,
    DROP CONSTRAINT tickets_price_check,
    DROP CONSTRAINT tickets_seat_check,
    DROP CONSTRAINT tickets_seat_row_check,
    DROP CONSTRAINT tickets_section_check,
    DROP CONSTRAINT tickets_status_check,
    DROP CONSTRAINT tickets_title_check,
    DROP CONSTRAINT tickets_venue_check,
    DROP CONSTRAINT tickets_version_check,
    ALTER COLUMN city TYPE city_name,
    ALTER COLUMN currency TYPE currency_code,
    ALTER COLUMN face_value TYPE listed_amount,
    ALTER COLUMN file_bytes TYPE ticket_file_size,
    ALTER COLUMN file_content_type TYPE ticket_file_type,
    ALTER COLUMN price TYPE listed_amount,
    ALTER COLUMN seat TYPE seat_part,
    ALTER COLUMN seat_row TYPE seat_part,
    ALTER COLUMN section TYPE seat_part,
    ALTER COLUMN status TYPE listing_status,
    ALTER COLUMN event_name TYPE event_name,
    ALTER COLUMN venue TYPE venue_name,
    ALTER COLUMN version TYPE row_version;

ALTER TABLE orders
    DROP CONSTRAINT orders_cancel_reason_check,
    DROP CONSTRAINT orders_currency_check,
    DROP CONSTRAINT orders_dispute_status_check,
    DROP CONSTRAINT orders_price_check,
    DROP CONSTRAINT orders_refund_attempts_check,
    DROP CONSTRAINT orders_refund_reason_check,
    DROP CONSTRAINT orders_status_check,
    DROP CONSTRAINT orders_tax_check,
    DROP CONSTRAINT orders_version_check,
    ALTER COLUMN cancel_reason TYPE cancel_reason,
    ALTER COLUMN currency TYPE currency_code,
    ALTER COLUMN dispute_status TYPE dispute_status,
    ALTER COLUMN price TYPE positive_amount,
    ALTER COLUMN refund_attempts TYPE attempt_count,
    ALTER COLUMN refund_reason TYPE refund_reason,
    ALTER COLUMN status TYPE order_status,
    ALTER COLUMN tax TYPE non_negative_amount,
    ALTER COLUMN version TYPE row_version;

ALTER TABLE listing_changes
    DROP CONSTRAINT listing_changes_kind_check,
    ALTER COLUMN kind TYPE listing_change_kind;
