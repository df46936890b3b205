-- A reservation in one round trip: the session check and the whole reservation run inside the
-- database, in one statement, under the same rules as before.

-- The session a token's digest names, if it is live: not revoked, before its absolute expiry and used
-- after `p_idle_cutoff`. Its use is recorded at most once a minute (or half the idle timeout, if that
-- is shorter), so a busy session does not write a row on every request. No row when the token is not
-- live.
CREATE FUNCTION authenticate_session(p_token_hash bytea, p_now timestamptz, p_idle_cutoff timestamptz)
RETURNS TABLE (user_id uuid, session_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    found_user uuid;
    found_session uuid;
    seen timestamptz;
BEGIN
    SELECT s.user_id, s.id, s.last_seen_at INTO found_user, found_session, seen
    FROM sessions s
    WHERE s.token_hash = p_token_hash
      AND s.revoked_at IS NULL
      AND s.expires_at > p_now
      AND s.last_seen_at > p_idle_cutoff;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF seen <= p_now - LEAST(interval '1 minute', (p_now - p_idle_cutoff) / 2) THEN
        UPDATE sessions SET last_seen_at = p_now WHERE id = found_session AND last_seen_at < p_now;
    END IF;
    user_id := found_user;
    session_id := found_session;
    RETURN NEXT;
END $$;

-- Reserves `p_ticket_id` for the session's user as order `p_order_id`, held until `p_expires_at`, and
-- records the order's event (`p_event_kind`, `p_event` with its `buyerId` filled in here, where the
-- buyer is first known) with a delivery for each of `p_consumers`.
--
-- One row: the order reserved, or why not (`refusal`), decided before anything but the session's
-- use (see `authenticate_session`) was written:
-- `unauthenticated`, `ticket_not_found`, `own_ticket`, `ticket_unavailable`, `hold_limit`, or
-- `hold_lapsed` (the ticket is under a hold that has run out: the caller ends it as the sweep would,
-- with its events, and asks again).
--
-- Exactly one of any number of simultaneous reservations of one ticket wins: the ticket row is locked
-- and re-read, and the partial unique index `orders_one_live_per_ticket` refuses a second live order
-- whatever this function does. One buyer's reservations queue on a transaction-scoped advisory lock
-- named after the buyer (no row is written to take it), so the hold limit holds under concurrent
-- requests. Lock order: the session row (when its use is recorded), the buyer's lock, the ticket row.
CREATE FUNCTION reserve_ticket(
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

    UPDATE tickets
    SET status = 'held', held_until = p_expires_at, hold_order_id = p_order_id, version = version + 1,
        updated_at = p_now
    WHERE id = p_ticket_id;

    -- Half up to the nearest minor unit, as `money::Percentage::of` rounds.
    tax_due := (listing.price * p_tax_milli_percent + 50000) / 100000;
    INSERT INTO orders (id, buyer_id, ticket_id, ticket_title, price, tax, total, currency, status, expires_at,
                        version, created_at, updated_at)
    VALUES (p_order_id, buyer, p_ticket_id, listing.title, listing.price, tax_due, listing.price + tax_due,
            listing.currency, 'created', p_expires_at, 1, p_now, p_now)
    RETURNING * INTO reserved;

    INSERT INTO outbox_events (kind, aggregate_id, payload, created_at)
    VALUES (p_event_kind, p_order_id, jsonb_set(p_event, '{buyerId}', to_jsonb(buyer)), p_now)
    RETURNING id INTO recorded;
    INSERT INTO outbox_deliveries (event_id, consumer, next_attempt_at)
    SELECT recorded, consumer, p_now FROM unnest(p_consumers) AS consumer;

    RETURN NEXT;
END $$;
