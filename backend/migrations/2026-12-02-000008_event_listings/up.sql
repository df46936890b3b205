-- Real resale listings: the event a ticket is for, the face value the seller paid, and the ticket
-- file itself.
--
-- Existing rows migrate by this rule: the title becomes the event's name, the face value is the
-- price, venue and city are empty and the start is unknown. Such a listing is not for sale (it has no
-- start and no file) until its owner gives the event's start and attaches the ticket; its owner is
-- told so.

ALTER TABLE tickets RENAME COLUMN title TO event_name;
ALTER TABLE tickets
    ADD COLUMN venue            text NOT NULL DEFAULT '' CHECK (char_length(venue) <= 120),
    ADD COLUMN city             text NOT NULL DEFAULT '' CHECK (char_length(city) <= 80),
    -- The instant the event starts, and the venue's time zone (IANA name) it is shown in. Unknown only
    -- for listings made before events were recorded.
    ADD COLUMN event_starts_at  timestamptz,
    ADD COLUMN event_time_zone  text,
    -- The day the event starts on, at the venue: what a date filter means.
    ADD COLUMN event_local_date date,
    ADD CONSTRAINT tickets_event_start_complete CHECK (
        (event_starts_at IS NULL) = (event_time_zone IS NULL)
        AND (event_starts_at IS NULL) = (event_local_date IS NULL)),
    ADD COLUMN section          text CHECK (char_length(section) BETWEEN 1 AND 40),
    ADD COLUMN seat_row         text CHECK (char_length(seat_row) BETWEEN 1 AND 40),
    ADD COLUMN seat             text CHECK (char_length(seat) BETWEEN 1 AND 40),
    -- What the seller paid, in minor units of `currency`.
    ADD COLUMN face_value       bigint,
    -- The ticket file: where the file store keeps it, and what it is. A listing without one is not
    -- for sale.
    ADD COLUMN file_key          text,
    ADD COLUMN file_content_type text CHECK (file_content_type IN ('application/pdf', 'image/png', 'image/jpeg')),
    ADD COLUMN file_bytes        integer CHECK (file_bytes BETWEEN 1 AND 2097152),
    ADD CONSTRAINT tickets_file_complete CHECK (
        (file_key IS NULL) = (file_content_type IS NULL) AND (file_key IS NULL) = (file_bytes IS NULL));

UPDATE tickets SET face_value = price;
ALTER TABLE tickets
    ALTER COLUMN face_value SET NOT NULL,
    ADD CONSTRAINT tickets_face_value_range CHECK (face_value > 0 AND face_value <= 100000000),
    ALTER COLUMN venue DROP DEFAULT,
    ALTER COLUMN city DROP DEFAULT;

-- The market: listings with a file, not sold, not deleted (and, in every query, starting later than
-- now). Browsing reads one of these ranges, soonest first or cheapest first, from a keyset cursor.
DROP INDEX tickets_listed_idx;
CREATE INDEX tickets_market_start_idx ON tickets (event_starts_at, id)
    WHERE status <> 'sold' AND deleted_at IS NULL AND file_key IS NOT NULL;
CREATE INDEX tickets_market_price_idx ON tickets (price, id)
    WHERE status <> 'sold' AND deleted_at IS NULL AND file_key IS NOT NULL;

-- Ticket files, when the file store is the database (the default; production may use an object
-- store instead). Keys are never reused: a replaced file gets a new key.
CREATE TABLE ticket_files (
    key        text PRIMARY KEY,
    content    bytea NOT NULL CHECK (octet_length(content) BETWEEN 1 AND 2097152),
    created_at timestamptz NOT NULL
);

-- An order remembers when its event starts: no hold outlives it, and refunds close then.
ALTER TABLE orders ADD COLUMN event_starts_at timestamptz;
UPDATE orders o SET event_starts_at = t.event_starts_at FROM tickets t WHERE t.id = o.ticket_id;

-- The reservation, as in `reserve_in_one_round_trip`, with the event's rules: a listing is for sale
-- only with a known start and a file, not once its event has started, and no hold outlives the
-- event's start. New refusals: `not_for_sale`, `event_started`.
CREATE OR REPLACE FUNCTION reserve_ticket(
    p_token_hash bytea,
    p_idle_cutoff timestamptz,
    p_ticket_id uuid,
    p_order_id uuid,
    p_now timestamptz,
    p_expires_at timestamptz,
    p_max_live_holds bigint,
    p_tax_milli_percent bigint,
    p_event_kind text,
    p_event jsonb,
    p_consumers text[]
) RETURNS TABLE (refusal text, reserved orders)
LANGUAGE plpgsql AS $$
DECLARE
    buyer uuid;
    listing tickets%ROWTYPE;
    tax_due bigint;
    live_holds bigint;
    recorded bigint;
    hold_end timestamptz;
BEGIN
    SELECT a.user_id INTO buyer FROM authenticate_session(p_token_hash, p_now, p_idle_cutoff) a;
    IF buyer IS NULL THEN
        refusal := 'unauthenticated';
        RETURN NEXT;
        RETURN;
    END IF;

    -- A look without a lock first: a crowd on one listing is turned away without queueing on its row.
    SELECT * INTO listing FROM tickets WHERE id = p_ticket_id AND deleted_at IS NULL;
    refusal := CASE
        WHEN NOT FOUND THEN 'ticket_not_found'
        WHEN listing.owner_id = buyer THEN 'own_ticket'
        WHEN listing.status = 'sold' OR (listing.status = 'held' AND listing.held_until > p_now)
            THEN 'ticket_unavailable'
        WHEN listing.file_key IS NULL OR listing.event_starts_at IS NULL THEN 'not_for_sale'
        WHEN listing.event_starts_at <= p_now THEN 'event_started'
    END;
    IF refusal IS NOT NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;

    PERFORM pg_advisory_xact_lock(hashtextextended('holds:' || buyer::text, 0));
    SELECT * INTO listing FROM tickets WHERE id = p_ticket_id AND deleted_at IS NULL FOR UPDATE;
    refusal := CASE
        WHEN NOT FOUND THEN 'ticket_not_found'
        WHEN listing.status = 'held' AND listing.held_until <= p_now THEN 'hold_lapsed'
        WHEN listing.status <> 'available' THEN 'ticket_unavailable'
        WHEN listing.file_key IS NULL OR listing.event_starts_at IS NULL THEN 'not_for_sale'
        WHEN listing.event_starts_at <= p_now THEN 'event_started'
    END;
    IF refusal IS NULL THEN
        SELECT count(*) INTO live_holds FROM orders o
        WHERE o.buyer_id = buyer AND o.status IN ('created', 'awaiting_payment') AND o.expires_at > p_now;
        IF live_holds >= p_max_live_holds THEN
            refusal := 'hold_limit';
        END IF;
    END IF;
    IF refusal IS NOT NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;

    hold_end := LEAST(p_expires_at, listing.event_starts_at);
    UPDATE tickets
    SET status = 'held', held_until = hold_end, hold_order_id = p_order_id, version = version + 1,
        updated_at = p_now
    WHERE id = p_ticket_id;

    -- Half up to the nearest minor unit, as `money::Percentage::of` rounds.
    tax_due := (listing.price * p_tax_milli_percent + 50000) / 100000;
    INSERT INTO orders (id, buyer_id, ticket_id, ticket_title, price, tax, total, currency, status, expires_at,
                        version, created_at, updated_at, event_starts_at)
    VALUES (p_order_id, buyer, p_ticket_id, listing.event_name, listing.price, tax_due, listing.price + tax_due,
            listing.currency, 'created', hold_end, 1, p_now, p_now, listing.event_starts_at)
    RETURNING * INTO reserved;

    INSERT INTO outbox_events (kind, aggregate_id, payload, created_at)
    VALUES (p_event_kind, p_order_id,
            jsonb_set(jsonb_set(p_event, '{buyerId}', to_jsonb(buyer)), '{expiresAt}', to_jsonb(hold_end)), p_now)
    RETURNING id INTO recorded;
    INSERT INTO outbox_deliveries (event_id, consumer, next_attempt_at)
    SELECT recorded, consumer, p_now FROM unnest(p_consumers) AS consumer;

    RETURN NEXT;
END $$;
