DROP FUNCTION sequence_listing_changes(integer, bigint);
DROP TRIGGER tickets_record_change ON tickets;
DROP FUNCTION record_listing_change();
DROP TABLE listing_changes;
