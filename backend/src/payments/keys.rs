//! Idempotency keys: one per order and Stripe write, committed before the write is sent.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::db::schema::stripe_requests;
use crate::db::{self, DbError, DbPool};

/// The key for `operation` on `order_id`: created on first use, the same ever after.
pub async fn idempotency_key(
    pool: &DbPool,
    order_id: Uuid,
    operation: &str,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let mut conn = db::conn(pool).await?;
    diesel::insert_into(stripe_requests::table)
        .values((
            stripe_requests::idempotency_key.eq(format!("{order_id}/{operation}/{}", Uuid::new_v4().simple())),
            stripe_requests::order_id.eq(order_id),
            stripe_requests::operation.eq(operation),
            stripe_requests::created_at.eq(now),
        ))
        .on_conflict((stripe_requests::order_id, stripe_requests::operation))
        .do_nothing()
        .execute(&mut conn)
        .await?;
    Ok(stripe_requests::table
        .filter(stripe_requests::order_id.eq(order_id))
        .filter(stripe_requests::operation.eq(operation))
        .select(stripe_requests::idempotency_key)
        .first(&mut conn)
        .await?)
}

/// A key of its own for this attempt at `operation` (stored before the call, like every key), for
/// writes that are safe to repeat but whose failed answer Stripe would replay under the old key for
/// 24 hours (cancelling a PaymentIntent).
pub async fn attempt_key(
    pool: &DbPool,
    order_id: Uuid,
    operation: &str,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    idempotency_key(pool, order_id, &format!("{operation}@{}", Uuid::new_v4().simple()), now).await
}
