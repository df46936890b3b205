CREATE OR REPLACE FUNCTION sequence_listing_changes(p_batch integer, p_keep bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    last_given bigint;
    given bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('listing_changes:sequencer', 0)) THEN
        RETURN NULL;
    END IF;
    SELECT COALESCE(max(position), 0) INTO last_given FROM listing_changes;
    WITH pending AS (
        SELECT id, row_number() OVER (ORDER BY id) AS n
        FROM (SELECT id FROM listing_changes WHERE position IS NULL ORDER BY id LIMIT p_batch) batch
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

ALTER TABLE listing_changes DROP COLUMN txid;
