-- Reservations asked for at once are decided together: `reserve_tickets` takes a batch of them
-- (parallel arrays, one element a reservation) and runs each step once for the whole batch, where
-- `reserve_ticket` ran every statement once a reservation. The rules are `reserve_ticket`'s, and so
-- are its refusals, with one more: `again`, for a buyer's second reservation in one batch, which the
-- caller sends in a later batch (one buyer's reservations are never judged in one statement, so the
-- hold limit counts each one's predecessor). What a batch costs the database is mostly its own: a
-- batch of 8 measured about twice the reservations a second of 8 `reserve_ticket` calls.
--
-- Each reservation's outcome is its own: one refused leaves the others as they would have been
-- alone. Of several in a batch for one ticket, the first (by its place in the arrays) that would
-- have won alone wins; the others are refused as `ticket_unavailable`, as they would be a moment
-- later. Lock order, as `reserve_ticket`'s: the sessions whose use is recorded (by id), the buyers'
-- advisory locks (by key, the same keys `reserve_ticket` takes, so the two functions can run side by
-- side during a rolling update), the ticket rows (by id). `reserve_ticket` stays for the release
-- before this one.

-- One reservation of a batch, as `reserve_tickets` carries it from step to step.
CREATE TYPE reservation_attempt AS (
    request      int,
    ticket_id    uuid,
    order_id     uuid,
    event        jsonb,
    buyer        uuid,
    session_id   uuid,
    last_seen_at timestamptz,
    refusal      text
);

-- Reserves `p_ticket_ids[i]` for the user of the session whose token's digest is `p_token_hashes[i]`
-- as order `p_order_ids[i]`, held until `p_expires_at` (or the event's start, if sooner), with its
-- event (`p_event_kind`, `p_events[i]` with `buyerId` and `expiresAt` filled in here) delivered to
-- each of `p_consumers`. One row a reservation, numbered from 1 as the arrays are (`request`): the
-- order, or why not (`refusal`).
CREATE FUNCTION reserve_tickets(
    p_token_hashes bytea[],
    p_ticket_ids uuid[],
    p_order_ids uuid[],
    p_events jsonb[],
    p_idle_cutoff timestamptz,
    p_now timestamptz,
    p_expires_at timestamptz,
    p_max_live_holds bigint,
    p_tax_milli_percent bigint,
    p_event_kind text,
    p_consumers text[]
) RETURNS TABLE (request int, refusal text, reserved orders)
LANGUAGE plpgsql AS $$
DECLARE
    attempts reservation_attempt[];
BEGIN
    -- Who asks, and a look without a lock at what they ask for: a crowd on one listing is turned
    -- away without queueing on its row, and writes nothing.
    attempts := ARRAY(
        SELECT ROW(r.request, r.ticket_id, r.order_id, r.event, s.user_id, s.session_id, s.last_seen_at,
                   CASE
                       WHEN s.user_id IS NULL THEN 'unauthenticated'
                       WHEN t.id IS NULL THEN 'ticket_not_found'
                       WHEN t.owner_id = s.user_id THEN 'own_ticket'
                       WHEN t.status = 'sold' OR (t.status = 'held' AND t.held_until > p_now)
                           THEN 'ticket_unavailable'
                       WHEN t.file_key IS NULL OR t.event_starts_at IS NULL THEN 'not_for_sale'
                       WHEN t.event_starts_at <= p_now THEN 'event_started'
                   END)::reservation_attempt
        FROM unnest(p_token_hashes, p_ticket_ids, p_order_ids, p_events) WITH ORDINALITY
             AS r (token_hash, ticket_id, order_id, event, request)
        LEFT JOIN LATERAL find_session(r.token_hash, p_now, p_idle_cutoff) s ON true
        LEFT JOIN tickets t ON t.id = r.ticket_id AND t.deleted_at IS NULL
        ORDER BY r.request);

    -- A buyer's first reservation still standing goes on; their others wait for another batch.
    attempts := ARRAY(
        SELECT ROW(a.request, a.ticket_id, a.order_id, a.event, a.buyer, a.session_id, a.last_seen_at,
                   CASE
                       WHEN a.refusal IS NULL
                            AND row_number() OVER (PARTITION BY a.buyer, a.refusal IS NULL ORDER BY a.request) > 1
                           THEN 'again'
                       ELSE a.refusal
                   END)::reservation_attempt
        FROM unnest(attempts) a
        ORDER BY a.request);

    -- The sessions' use, at most once a minute each (as `touch_session`), their rows locked in order.
    PERFORM 1 FROM sessions s
    WHERE s.id IN (
        SELECT a.session_id FROM unnest(attempts) a
        WHERE a.refusal IS NULL
          AND a.last_seen_at <= p_now - LEAST(interval '1 minute', (p_now - p_idle_cutoff) / 2))
    ORDER BY s.id
    FOR UPDATE;
    UPDATE sessions s SET last_seen_at = p_now
    FROM unnest(attempts) a
    WHERE a.refusal IS NULL AND s.id = a.session_id AND s.last_seen_at < p_now
      AND a.last_seen_at <= p_now - LEAST(interval '1 minute', (p_now - p_idle_cutoff) / 2);

    PERFORM pg_advisory_xact_lock(k.key)
    FROM (SELECT DISTINCT hashtextextended('holds:' || a.buyer::text, 0) AS key
          FROM unnest(attempts) a WHERE a.refusal IS NULL
          ORDER BY 1) k;

    -- The tickets locked and read again, each buyer's live holds counted under their lock, and of
    -- those left for one ticket the first wins.
    attempts := ARRAY(
        WITH standing AS (
            SELECT * FROM unnest(attempts) a WHERE a.refusal IS NULL
        ),
        locked AS (
            SELECT t.* FROM tickets t
            WHERE t.id IN (SELECT s.ticket_id FROM standing s) AND t.deleted_at IS NULL
            ORDER BY t.id
            FOR UPDATE
        ),
        judged AS (
            SELECT s.request, s.ticket_id,
                   CASE
                       WHEN t.id IS NULL THEN 'ticket_not_found'
                       WHEN t.status = 'held' AND t.held_until <= p_now THEN 'hold_lapsed'
                       WHEN t.status <> 'available' THEN 'ticket_unavailable'
                       WHEN t.file_key IS NULL OR t.event_starts_at IS NULL THEN 'not_for_sale'
                       WHEN t.event_starts_at <= p_now THEN 'event_started'
                       WHEN h.holds >= p_max_live_holds THEN 'hold_limit'
                   END AS refusal
            FROM standing s
            LEFT JOIN locked t ON t.id = s.ticket_id
            LEFT JOIN LATERAL (
                SELECT count(*) AS holds FROM orders o
                WHERE o.buyer_id = s.buyer AND o.status IN ('created', 'awaiting_payment') AND o.expires_at > p_now
            ) h ON t.id IS NOT NULL
        ),
        ranked AS (
            SELECT j.request,
                   CASE
                       WHEN j.refusal IS NULL
                            AND row_number() OVER (PARTITION BY j.ticket_id, j.refusal IS NULL ORDER BY j.request) > 1
                           THEN 'ticket_unavailable'
                       ELSE j.refusal
                   END AS refusal
            FROM judged j
        )
        SELECT ROW(a.request, a.ticket_id, a.order_id, a.event, a.buyer, a.session_id, a.last_seen_at,
                   CASE WHEN a.refusal IS NULL THEN r.refusal ELSE a.refusal END)::reservation_attempt
        FROM unnest(attempts) a
        LEFT JOIN ranked r ON r.request = a.request
        ORDER BY a.request);

    -- The winners' holds, orders, events and deliveries; then every reservation's answer.
    RETURN QUERY
    WITH held AS (
        UPDATE tickets t
        SET status = 'held', held_until = LEAST(p_expires_at, t.event_starts_at), hold_order_id = a.order_id,
            version = t.version + 1, updated_at = p_now
        FROM unnest(attempts) a
        WHERE a.refusal IS NULL AND t.id = a.ticket_id
        RETURNING t.id, t.event_name, t.price, t.currency, t.held_until, t.event_starts_at, a.order_id, a.buyer,
                  a.event
    ),
    placed AS (
        -- Half up to the nearest minor unit, as `money::Percentage::of` rounds.
        INSERT INTO orders (id, buyer_id, ticket_id, ticket_title, price, tax, total, currency, status, expires_at,
                            version, created_at, updated_at, event_starts_at)
        SELECT h.order_id, h.buyer, h.id, h.event_name, h.price, taxed.tax, h.price + taxed.tax, h.currency,
               'created', h.held_until, 1, p_now, p_now, h.event_starts_at
        FROM held h, LATERAL (SELECT (h.price * p_tax_milli_percent + 50000) / 100000 AS tax) taxed
        RETURNING *
    ),
    recorded AS (
        INSERT INTO outbox_events (kind, aggregate_id, payload, created_at)
        SELECT p_event_kind, h.order_id,
               jsonb_set(jsonb_set(h.event, '{buyerId}', to_jsonb(h.buyer)), '{expiresAt}', to_jsonb(h.held_until)),
               p_now
        FROM held h
        RETURNING id
    ),
    delivered AS (
        INSERT INTO outbox_deliveries (event_id, consumer, next_attempt_at)
        SELECT e.id, c.consumer, p_now FROM recorded e, unnest(p_consumers) AS c (consumer)
    )
    SELECT a.request, a.refusal, CASE WHEN p.id IS NULL THEN NULL ELSE ROW(p.*)::orders END
    FROM unnest(attempts) a
    LEFT JOIN placed p ON p.id = a.order_id
    ORDER BY a.request;
END $$;
