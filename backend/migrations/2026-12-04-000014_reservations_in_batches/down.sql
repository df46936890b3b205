-- Back to one reservation a call (`reserve_ticket`, which stays).
DROP FUNCTION reserve_tickets(bytea[], uuid[], uuid[], jsonb[], timestamptz, timestamptz, timestamptz, bigint, bigint, text, text[]);
DROP TYPE reservation_attempt;
