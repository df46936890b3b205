DROP TABLE payouts;
ALTER TABLE orders DROP CONSTRAINT orders_amounts_key;
DROP TABLE seller_accounts;
