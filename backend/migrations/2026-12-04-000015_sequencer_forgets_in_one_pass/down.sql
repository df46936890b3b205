-- Back to looking for a later change beside each change.
CREATE OR REPLACE FUNCTION sequence_listing_changes(p_batch integer, p_keep bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    last_given bigint;
    given bigint;
    batch bigint[];
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('listing_changes:sequencer', 0)) THEN
        RETURN NULL;
    END IF;
    SELECT COALESCE(max(position), 0) INTO last_given FROM listing_changes;
    SELECT array_agg(id ORDER BY id) INTO batch
    FROM (SELECT id FROM listing_changes WHERE position IS NULL ORDER BY id LIMIT p_batch) pending;
    IF batch IS NULL THEN
        RETURN NULL;
    END IF;
    DELETE FROM listing_changes c
    WHERE c.id = ANY (batch)
      AND c.kind IN ('released', 'changed')
      AND EXISTS (
          SELECT 1 FROM listing_changes later
          WHERE later.id = ANY (batch)
            AND later.ticket_id = c.ticket_id
            AND later.txid = c.txid
            AND later.id > c.id
      );
    WITH pending AS (
        SELECT id, row_number() OVER (ORDER BY id) AS n FROM listing_changes WHERE id = ANY (batch)
    )
    UPDATE listing_changes c SET position = last_given + pending.n FROM pending WHERE c.id = pending.id;
    GET DIAGNOSTICS given = ROW_COUNT;
    IF given = 0 THEN
        RETURN NULL;
    END IF;
    DELETE FROM listing_changes WHERE position <= last_given + given - p_keep;
    PERFORM pg_notify('listing_changes', (last_given + given)::text);
    RETURN last_given + given;
END $$;
