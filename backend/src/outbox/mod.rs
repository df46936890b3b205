//! The transactional outbox: state changes record their events in the same database transaction, and
//! each event is later delivered to each consumer that subscribes to its kind.

mod event;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

pub use event::Event;

use crate::db::schema::{outbox_deliveries, outbox_events};

/// Which consumers (by name) receive which event kinds.
const SUBSCRIPTIONS: &[(&str, &[&str])] = &[];

/// The consumers that receive events of `kind`, by name.
pub fn subscribers(kind: &str) -> &'static [&'static str] {
    SUBSCRIPTIONS.iter().find(|(subscribed, _)| *subscribed == kind).map_or(&[], |(_, consumers)| consumers)
}

/// Records `event` inside the caller's transaction, with one pending delivery per subscriber.
pub async fn record(conn: &mut AsyncPgConnection, event: &Event, now: DateTime<Utc>) -> QueryResult<i64> {
    let payload = serde_json::to_value(event).map_err(|err| diesel::result::Error::SerializationError(err.into()))?;
    let id: i64 = diesel::insert_into(outbox_events::table)
        .values((
            outbox_events::kind.eq(event.kind()),
            outbox_events::aggregate_id.eq(event.aggregate_id()),
            outbox_events::payload.eq(payload),
            outbox_events::created_at.eq(now),
        ))
        .returning(outbox_events::id)
        .get_result(conn)
        .await?;
    let deliveries: Vec<_> = subscribers(event.kind())
        .iter()
        .map(|consumer| {
            (
                outbox_deliveries::event_id.eq(id),
                outbox_deliveries::consumer.eq(*consumer),
                outbox_deliveries::next_attempt_at.eq(now),
            )
        })
        .collect();
    if !deliveries.is_empty() {
        diesel::insert_into(outbox_deliveries::table).values(deliveries).execute(conn).await?;
    }
    Ok(id)
}
