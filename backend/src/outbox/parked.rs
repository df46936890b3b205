//! Parked deliveries: events a consumer failed on `OUTBOX_MAX_ATTEMPTS` times in a row. They wait for
//! an operator, who lists them (`ticket-exchange outbox parked`), fixes the cause (an SMTP relay's
//! credentials, a Stripe key, an outage) and re-drives them (`ticket-exchange outbox retry <id>`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::{outbox_deliveries, outbox_events};
use crate::db::{self, DbError, DbPool};

/// One parked delivery.
#[derive(Debug, Clone, Queryable)]
pub struct ParkedDelivery {
    pub event_id: i64,
    pub consumer: String,
    pub kind: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// Every parked delivery, oldest event first.
pub async fn list(pool: &DbPool) -> Result<Vec<ParkedDelivery>, DbError> {
    let mut conn = db::conn(pool).await?;
    Ok(outbox_deliveries::table
        .inner_join(outbox_events::table)
        .filter(outbox_deliveries::status.eq("parked"))
        .order((outbox_deliveries::event_id, outbox_deliveries::consumer))
        .select((
            outbox_deliveries::event_id,
            outbox_deliveries::consumer,
            outbox_events::kind,
            outbox_deliveries::attempts,
            outbox_deliveries::last_error,
            outbox_events::created_at,
        ))
        .load(&mut conn)
        .await?)
}

/// Puts the parked deliveries of event `event_id` (only `consumer`'s, when given) back in line, due
/// now with a fresh count of attempts. Returns how many.
pub async fn retry(pool: &DbPool, event_id: i64, consumer: Option<&str>, now: DateTime<Utc>) -> Result<usize, DbError> {
    let mut conn = db::conn(pool).await?;
    let mut target = outbox_deliveries::table
        .filter(outbox_deliveries::event_id.eq(event_id))
        .filter(outbox_deliveries::status.eq("parked"))
        .into_boxed();
    if let Some(consumer) = consumer {
        target = target.filter(outbox_deliveries::consumer.eq(consumer.to_owned()));
    }
    let keys: Vec<(i64, String)> =
        target.select((outbox_deliveries::event_id, outbox_deliveries::consumer)).load(&mut conn).await?;
    let mut retried = 0;
    for (event, name) in keys {
        retried +=
            diesel::update(outbox_deliveries::table.find((event, name)).filter(outbox_deliveries::status.eq("parked")))
                .set((
                    outbox_deliveries::status.eq("pending"),
                    outbox_deliveries::attempts.eq(0),
                    outbox_deliveries::next_attempt_at.eq(now),
                    outbox_deliveries::lease_token.eq(None::<uuid::Uuid>),
                ))
                .execute(&mut conn)
                .await?;
    }
    Ok(retried)
}
