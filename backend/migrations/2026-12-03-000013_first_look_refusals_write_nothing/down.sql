-- Back to one `authenticate_session` that looks and writes, called first by `reserve_ticket`.
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


CREATE OR REPLACE FUNCTION authenticate_session(p_token_hash bytea, p_now timestamptz, p_idle_cutoff timestamptz)
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

DROP FUNCTION touch_session(uuid, timestamptz, timestamptz, timestamptz);
DROP FUNCTION find_session(bytea, timestamptz, timestamptz);
