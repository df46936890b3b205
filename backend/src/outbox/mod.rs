//! The transactional outbox: state changes record their events in the same database transaction, and
//! the [`Dispatcher`] later delivers each event to each consumer that subscribes to its kind.

mod dispatcher;
mod event;
pub mod parked;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

pub use dispatcher::{ConsumerError, Delivery, DispatchReport, Dispatcher, RetryPolicy};
pub use event::Event;

use crate::db::schema::{outbox_deliveries, outbox_events};

/// Consumer names. A consumer's name is stored with each of its deliveries: renaming one orphans them.
pub mod consumers {
    /// Cancels the PaymentIntent of an order whose hold ended, or settles it if it was paid.
    pub const CANCEL_PAYMENT: &str = "payments.cancel_intent";
    /// Refunds a payment that arrived after its listing went to someone else.
    pub const REFUND_PAYMENT: &str = "payments.refund";
    /// Emails the buyer about their order.
    pub const EMAIL: &str = "notifications.email";
    /// Emails the seller that their ticket sold.
    pub const SELLER_EMAIL: &str = "notifications.seller_email";
    /// At a paid-for hold's end, asks Stripe whether it was paid before releasing the ticket.
    pub const RESOLVE_LAPSED_HOLD: &str = "payments.resolve_lapsed_hold";
    /// Transfers a seller's share when it falls due.
    pub const TRANSFER_SHARE: &str = "payouts.transfer";
    /// Cancels a refunded sale's share, or reverses its transfer.
    pub const REVERSE_SHARE: &str = "payouts.reverse";
}

/// Which consumers receive which event kinds.
const SUBSCRIPTIONS: &[(&str, &[&str])] = &[
    ("waitlist.offered", &[consumers::EMAIL]),
    ("order.cancelled", &[consumers::CANCEL_PAYMENT]),
    ("order.expired", &[consumers::CANCEL_PAYMENT]),
    ("order.refund_requested", &[consumers::REFUND_PAYMENT]),
    ("order.completed", &[consumers::EMAIL, consumers::SELLER_EMAIL]),
    ("order.refunded", &[consumers::EMAIL, consumers::REVERSE_SHARE]),
    ("payment.started", &[consumers::RESOLVE_LAPSED_HOLD]),
    ("payout.due", &[consumers::TRANSFER_SHARE]),
];

/// The consumers that receive events of `kind`, by name.
pub fn subscribers(kind: &str) -> &'static [&'static str] {
    SUBSCRIPTIONS.iter().find(|(subscribed, _)| *subscribed == kind).map_or(&[], |(_, consumers)| consumers)
}

/// Records `event` inside the caller's transaction, with one pending delivery per subscriber.
pub async fn record(conn: &mut AsyncPgConnection, event: &Event, now: DateTime<Utc>) -> QueryResult<()> {
    record_all(conn, std::slice::from_ref(event), now).await
}

/// Records `event` now, its deliveries due only at `due` (a check to make when a hold ends).
pub async fn record_due(
    conn: &mut AsyncPgConnection,
    event: &Event,
    now: DateTime<Utc>,
    due: DateTime<Utc>,
) -> QueryResult<()> {
    insert(conn, std::slice::from_ref(event), now, due).await
}

/// Records several events inside the caller's transaction, in a few statements whatever their number.
pub async fn record_all(conn: &mut AsyncPgConnection, events: &[Event], now: DateTime<Utc>) -> QueryResult<()> {
    insert(conn, events, now, now).await
}

async fn insert(
    conn: &mut AsyncPgConnection,
    events: &[Event],
    now: DateTime<Utc>,
    due: DateTime<Utc>,
) -> QueryResult<()> {
    for chunk in events.chunks(10_000) {
        let rows = chunk
            .iter()
            .map(|event| {
                let payload =
                    serde_json::to_value(event).map_err(|err| diesel::result::Error::SerializationError(err.into()))?;
                Ok((
                    outbox_events::kind.eq(event.kind()),
                    outbox_events::aggregate_id.eq(event.aggregate_id()),
                    outbox_events::payload.eq(payload),
                    outbox_events::created_at.eq(now),
                ))
            })
            .collect::<QueryResult<Vec<_>>>()?;
        let ids: Vec<i64> = diesel::insert_into(outbox_events::table)
            .values(rows)
            .returning(outbox_events::id)
            .get_results(conn)
            .await?;
        let deliveries: Vec<_> = ids
            .iter()
            .zip(chunk)
            .flat_map(|(id, event)| {
                subscribers(event.kind()).iter().map(move |consumer| {
                    (
                        outbox_deliveries::event_id.eq(*id),
                        outbox_deliveries::consumer.eq(*consumer),
                        outbox_deliveries::next_attempt_at.eq(due),
                    )
                })
            })
            .collect();
        for part in deliveries.chunks(10_000) {
            diesel::insert_into(outbox_deliveries::table).values(part).execute(conn).await?;
        }
    }
    Ok(())
}
