-- Back to listings without events. `reserve_ticket` is dropped (its result type, the orders row,
-- changes when the column goes): revert `reserve_in_one_round_trip` next and run it again to bring
-- back its earlier body.
DROP FUNCTION reserve_ticket(bytea, timestamptz, uuid, uuid, timestamptz, timestamptz, bigint, bigint, text, jsonb, text[]);
ALTER TABLE orders DROP COLUMN event_starts_at;
DROP TABLE ticket_files;
DROP INDEX tickets_market_start_idx;
DROP INDEX tickets_market_price_idx;
ALTER TABLE tickets
    DROP COLUMN venue, DROP COLUMN city, DROP COLUMN event_starts_at, DROP COLUMN event_time_zone,
    DROP COLUMN event_local_date, DROP COLUMN section, DROP COLUMN seat_row, DROP COLUMN seat,
    DROP COLUMN face_value, DROP COLUMN file_key, DROP COLUMN file_content_type, DROP COLUMN file_bytes;
ALTER TABLE tickets RENAME COLUMN event_name TO title;
CREATE INDEX tickets_listed_idx ON tickets (created_at DESC, id DESC)
    WHERE status <> 'sold' AND deleted_at IS NULL;
