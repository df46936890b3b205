//! Delivers recorded events to their consumers: at least once, with retries and backoff, and parks a
//! delivery that keeps failing instead of retrying it forever.
//!
//! Deliveries are claimed one at a time with `FOR UPDATE SKIP LOCKED` and leased for a while, so any
//! number of replicas can dispatch at once without handing one delivery to two of them, and a lease
//! covers only the delivery being worked on. Each claim carries a fresh lease token, and the outcome
//! is recorded only under that token: a dispatcher whose lease ran out (and whose delivery another
//! dispatcher took over) cannot overwrite what the current holder records. A replica that dies
//! mid-delivery leaves the lease to run out; the delivery is then attempted again. Consumers are plain
//! async functions registered by name and must be idempotent. A consumer that finds the work in
//! someone else's hands right now ([`ConsumerError::busy`]) has the delivery put off without counting
//! an attempt.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Jsonb, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use super::Event;
use crate::clock::Clock;
use crate::db::schema::outbox_deliveries;
use crate::db::{self, DbError, DbPool};

/// One event handed to one consumer.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event_id: i64,
    pub consumer: String,
    /// 1 for the first attempt.
    pub attempt: i32,
    pub event: Event,
}

/// Why a consumer could not handle an event; the delivery is retried.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct ConsumerError {
    pub reason: String,
    /// Not a failure: someone else is doing this work right now. Try later without counting it.
    pub busy: bool,
}

impl ConsumerError {
    pub fn new(reason: impl std::fmt::Display) -> Self {
        Self { reason: reason.to_string(), busy: false }
    }

    /// The work is in another worker's hands right now (e.g. it is sending this very email).
    pub fn busy(reason: impl std::fmt::Display) -> Self {
        Self { reason: reason.to_string(), busy: true }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), ConsumerError>> + Send>>;
type Handler = Arc<dyn Fn(Delivery) -> BoxFuture + Send + Sync>;

/// When to try again and when to give up.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts before a delivery is parked.
    pub max_attempts: i32,
    /// Delay after the first failure; doubled after each further one.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// How long a claimed delivery is reserved for the replica that claimed it.
    pub lease: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(600),
            lease: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    fn delay_after(&self, attempt: i32) -> TimeDelta {
        let exponent = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0).min(20);
        let delay = self.first_delay.saturating_mul(2u32.saturating_pow(exponent)).min(self.max_delay);
        TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX)
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    pub delivered: usize,
    pub retried: usize,
    pub parked: usize,
    /// Put off without counting an attempt: another worker had the work in hand.
    pub deferred: usize,
    /// Finished after the lease had passed to another dispatcher: the outcome was not recorded.
    pub fenced: usize,
}

impl DispatchReport {
    pub fn attempted(&self) -> usize {
        self.delivered + self.retried + self.parked + self.deferred + self.fenced
    }

    fn add(&mut self, other: Self) {
        self.delivered += other.delivered;
        self.retried += other.retried;
        self.parked += other.parked;
        self.deferred += other.deferred;
        self.fenced += other.fenced;
    }
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Text)]
    consumer: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Jsonb)]
    payload: serde_json::Value,
}

/// Claims the next due delivery: leased until $3 under token $4.
const CLAIM: &str = "
WITH due AS (
    SELECT event_id, consumer FROM outbox_deliveries
    WHERE status = 'pending' AND next_attempt_at <= $1 AND consumer = ANY($2)
    ORDER BY next_attempt_at, event_id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox_deliveries d
SET attempts = d.attempts + 1, next_attempt_at = $3, lease_token = $4
FROM due, outbox_events e
WHERE d.event_id = due.event_id AND d.consumer = due.consumer AND e.id = d.event_id
RETURNING d.event_id, d.consumer, d.attempts, e.payload";

/// Delivers due events to registered consumers.
#[derive(Clone)]
pub struct Dispatcher {
    pool: DbPool,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    handlers: HashMap<String, Handler>,
}

impl Dispatcher {
    pub fn new(pool: DbPool, clock: Arc<dyn Clock>, policy: RetryPolicy) -> Self {
        Self { pool, clock, policy, handlers: HashMap::new() }
    }

    /// Registers `handler` as the consumer called `name`.
    pub fn register<F, Fut>(mut self, name: &str, handler: F) -> Self
    where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConsumerError>> + Send + 'static,
    {
        self.handlers.insert(name.to_owned(), Arc::new(move |delivery| Box::pin(handler(delivery))));
        self
    }

    /// Attempts up to `limit` due deliveries once each, claiming each just before working on it.
    pub async fn dispatch_due(&self, limit: i64) -> Result<DispatchReport, DbError> {
        let mut report = DispatchReport::default();
        for _ in 0..limit {
            let Some((claim, token)) = self.claim_next().await? else { break };
            report.add(self.deliver(claim, token).await?);
        }
        Ok(report)
    }

    /// Claims the next due delivery under a new lease token, if any is due.
    async fn claim_next(&self) -> Result<Option<(Claimed, uuid::Uuid)>, DbError> {
        let now = self.clock.now();
        let lease_end = now + TimeDelta::from_std(self.policy.lease).unwrap_or(TimeDelta::MAX);
        let names: Vec<String> = self.handlers.keys().cloned().collect();
        let token = uuid::Uuid::new_v4();
        let mut conn = db::conn(&self.pool).await?;
        let claimed: Option<Claimed> = diesel::sql_query(CLAIM)
            .bind::<Timestamptz, _>(now)
            .bind::<Array<Text>, _>(&names)
            .bind::<Timestamptz, _>(lease_end)
            .bind::<diesel::sql_types::Uuid, _>(token)
            .get_result(&mut conn)
            .await
            .optional()?;
        Ok(claimed.map(|claim| (claim, token)))
    }

    /// Attempts every due delivery, pass after pass, until none is left due. Deliveries that fail are
    /// rescheduled into the future, so this ends.
    pub async fn drain(&self) -> Result<DispatchReport, DbError> {
        let mut total = DispatchReport::default();
        loop {
            let pass = self.dispatch_due(100).await?;
            total.add(pass);
            if pass.attempted() == 0 {
                return Ok(total);
            }
        }
    }

    async fn deliver(&self, claim: Claimed, token: uuid::Uuid) -> Result<DispatchReport, DbError> {
        let outcome = match (serde_json::from_value::<Event>(claim.payload), self.handlers.get(&claim.consumer)) {
            (Ok(event), Some(handler)) => {
                let delivery = Delivery {
                    event_id: claim.event_id,
                    consumer: claim.consumer.clone(),
                    attempt: claim.attempts,
                    event,
                };
                handler(delivery).await
            }
            (Err(err), _) => Err(ConsumerError::new(format!("unreadable event payload: {err}"))),
            (Ok(_), None) => Err(ConsumerError::new("no handler registered")),
        };
        let now = self.clock.now();
        let target = outbox_deliveries::table
            .filter(outbox_deliveries::event_id.eq(claim.event_id))
            .filter(outbox_deliveries::consumer.eq(&claim.consumer))
            .filter(outbox_deliveries::status.eq("pending"))
            .filter(outbox_deliveries::lease_token.eq(token));
        let mut conn = db::conn(&self.pool).await?;
        let mut report = DispatchReport::default();
        let recorded = match outcome {
            Ok(()) => {
                report.delivered = 1;
                diesel::update(target)
                    .set((
                        outbox_deliveries::status.eq("delivered"),
                        outbox_deliveries::delivered_at.eq(Some(now)),
                        outbox_deliveries::last_error.eq(None::<String>),
                        outbox_deliveries::lease_token.eq(None::<uuid::Uuid>),
                    ))
                    .execute(&mut conn)
                    .await?
            }
            Err(err) if err.busy => {
                // Not an attempt: put it off a little, uncounted.
                report.deferred = 1;
                // The other worker's turn lasts up to a lease.
                let retry_at: DateTime<Utc> = now + TimeDelta::from_std(self.policy.lease).unwrap_or(TimeDelta::MAX);
                tracing::debug!(event_id = claim.event_id, consumer = %claim.consumer, reason = %err, "event delivery put off");
                diesel::update(target)
                    .set((
                        outbox_deliveries::attempts.eq(outbox_deliveries::attempts - 1),
                        outbox_deliveries::next_attempt_at.eq(retry_at),
                        outbox_deliveries::lease_token.eq(None::<uuid::Uuid>),
                    ))
                    .execute(&mut conn)
                    .await?
            }
            Err(err) if claim.attempts >= self.policy.max_attempts => {
                tracing::error!(
                    event_id = claim.event_id,
                    consumer = %claim.consumer,
                    attempts = claim.attempts,
                    error = %err,
                    "event delivery parked after repeated failures"
                );
                report.parked = 1;
                diesel::update(target)
                    .set((
                        outbox_deliveries::status.eq("parked"),
                        outbox_deliveries::last_error.eq(Some(err.reason)),
                        outbox_deliveries::lease_token.eq(None::<uuid::Uuid>),
                    ))
                    .execute(&mut conn)
                    .await?
            }
            Err(err) => {
                let retry_at: DateTime<Utc> = now + self.policy.delay_after(claim.attempts);
                tracing::warn!(
                    event_id = claim.event_id,
                    consumer = %claim.consumer,
                    attempt = claim.attempts,
                    error = %err,
                    %retry_at,
                    "event delivery failed; will retry"
                );
                report.retried = 1;
                diesel::update(target)
                    .set((
                        outbox_deliveries::next_attempt_at.eq(retry_at),
                        outbox_deliveries::last_error.eq(Some(err.reason)),
                        outbox_deliveries::lease_token.eq(None::<uuid::Uuid>),
                    ))
                    .execute(&mut conn)
                    .await?
            }
        };
        if recorded == 0 {
            // Our lease ran out and another dispatcher holds the delivery now: its record stands.
            tracing::warn!(event_id = claim.event_id, consumer = %claim.consumer, "lease lost; outcome not recorded");
            return Ok(DispatchReport { fenced: 1, ..DispatchReport::default() });
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy {
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
            ..Default::default()
        };
        let seconds: Vec<i64> = (1..=7).map(|attempt| policy.delay_after(attempt).num_seconds()).collect();
        assert_eq!(seconds, [2, 4, 8, 16, 32, 60, 60]);
    }
}
