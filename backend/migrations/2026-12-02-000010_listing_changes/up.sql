-- The live market's change log: one row per change to a listing, in the order changes committed.
--
-- A trigger records each change with `position` unset; positions are handed out afterwards by one
-- sequencer at a time (`sequence_listing_changes`), to the rows it can see, that is to committed
-- ones. So positions follow commit order: a reader who has seen position n has seen everything
-- before it, which an id taken at insert time would not promise (transactions commit in any order).
-- The trigger sends no NOTIFY: a NOTIFY takes a lock at commit that every writer would queue on.
CREATE TABLE listing_changes (
    id         bigserial PRIMARY KEY,
    position   bigint UNIQUE,
    ticket_id  uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('listed', 'changed', 'held', 'released', 'sold', 'deleted')),
    version    integer NOT NULL,
    -- The listing as it was after the change (the tickets row).
    listing    jsonb NOT NULL
);

CREATE INDEX listing_changes_unsequenced_idx ON listing_changes (id) WHERE position IS NULL;

CREATE FUNCTION record_listing_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    change text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        change := 'listed';
    ELSIF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
        change := 'deleted';
    ELSIF NEW.status = 'held'
        AND (OLD.status <> 'held' OR OLD.hold_order_id IS DISTINCT FROM NEW.hold_order_id) THEN
        change := 'held';
    ELSIF NEW.status = 'sold' AND OLD.status <> 'sold' THEN
        change := 'sold';
    ELSIF NEW.status = 'available' AND OLD.status <> 'available' THEN
        change := 'released';
    ELSIF NEW.version <> OLD.version THEN
        change := 'changed';
    ELSE
        -- Nothing a card shows (a held ticket's grace for a started payment).
        RETURN NULL;
    END IF;
    INSERT INTO listing_changes (ticket_id, kind, version, listing)
    VALUES (NEW.id, change, NEW.version, to_jsonb(NEW));
    RETURN NULL;
END $$;

CREATE TRIGGER tickets_record_change
AFTER INSERT OR UPDATE ON tickets
FOR EACH ROW EXECUTE FUNCTION record_listing_change();

-- Gives positions to up to `p_batch` committed, unsequenced changes, in the order they were
-- recorded, and forgets all but the last `p_keep`. Only one caller at a time does anything (the
-- others get NULL at once); it notifies `listing_changes` with the last position it gave, which
-- listeners hear when it commits. Answers that position, or NULL when there was nothing to do.
CREATE FUNCTION sequence_listing_changes(p_batch integer, p_keep bigint) RETURNS bigint
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
