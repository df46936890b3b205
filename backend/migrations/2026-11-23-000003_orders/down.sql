DROP INDEX tickets_lapsing_idx;
ALTER TABLE tickets DROP CONSTRAINT tickets_hold_names_its_order;
ALTER TABLE tickets DROP COLUMN hold_order_id;
DROP TABLE orders;
