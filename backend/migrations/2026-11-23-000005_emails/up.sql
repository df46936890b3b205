-- Emails sent (or being sent) for an event: at most one per event and recipient, whatever retries,
-- redeliveries or replicas do. A worker claims the row before sending and marks it sent after.
CREATE TABLE sent_emails (
    event_id   bigint NOT NULL REFERENCES outbox_events (id) ON DELETE CASCADE,
    recipient  text NOT NULL,
    kind       text NOT NULL,
    status     text NOT NULL CHECK (status IN ('sending', 'sent')),
    claimed_at timestamptz NOT NULL,
    sent_at    timestamptz,
    message_id text NOT NULL,
    PRIMARY KEY (event_id, recipient)
);
