DROP FUNCTION reserve_ticket(bytea, timestamptz, uuid, uuid, timestamptz, timestamptz, bigint, bigint, text, jsonb, text[]);
DROP FUNCTION authenticate_session(bytea, timestamptz, timestamptz);
