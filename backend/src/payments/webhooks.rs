//! Stripe webhooks: verified by signature, deduplicated by event id in the same transaction as their
//! effect, and acted on by re-reading the PaymentIntent from Stripe, so late, repeated or out-of-order
//! deliveries cannot move an order backwards.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use stripe_gateway::webhook;

use super::refund::finish_refund;
use super::{Payments, PaymentsError, settle};
use crate::db::schema::stripe_events;
use crate::db::{self, DbPool};
use crate::orders::store;

/// Seconds between a signature's timestamp and now beyond which a webhook is refused.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    Handled,
    Duplicate,
    Ignored,
}

/// Records the event id; `false` when it was already recorded.
async fn first_delivery(conn: &mut AsyncPgConnection, id: &str, kind: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let inserted = diesel::insert_into(stripe_events::table)
        .values((stripe_events::id.eq(id), stripe_events::kind.eq(kind), stripe_events::received_at.eq(now)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

pub async fn handle(
    payments: &Payments,
    pool: &DbPool,
    payload: &[u8],
    signature: Option<&str>,
    now: DateTime<Utc>,
) -> Result<WebhookOutcome, PaymentsError> {
    let event = webhook::verify(
        payload,
        signature.unwrap_or_default(),
        &payments.settings.webhook_secret,
        now.timestamp(),
        TOLERANCE_SECS,
    )
    .map_err(|err| PaymentsError::InvalidSignature(err.to_string()))?;
    let mut conn = db::conn(pool).await?;
    let seen = stripe_events::table.find(&event.id).count().get_result::<i64>(&mut conn).await? > 0;
    if seen {
        return Ok(WebhookOutcome::Duplicate);
    }
    if event.kind.starts_with("payment_intent.") {
        let Some(intent_id) = event.object["id"].as_str() else {
            return Err(PaymentsError::InvalidSignature("event without a PaymentIntent id".into()));
        };
        // Stripe's current word, not the event's snapshot: events may be late or out of order.
        let intent = payments.gateway.retrieve_intent(intent_id).await?;
        let order = store::find_by_intent(&mut conn, intent_id).await?;
        return conn
            .transaction(async |conn| {
                if !first_delivery(conn, &event.id, &event.kind, now).await? {
                    return Ok::<_, PaymentsError>(WebhookOutcome::Duplicate);
                }
                match order {
                    Some(order) => {
                        settle::settle(conn, order.id, &intent, now).await?;
                        Ok(WebhookOutcome::Handled)
                    }
                    None => Ok(WebhookOutcome::Ignored),
                }
            })
            .await;
    }
    if event.kind == "charge.refunded" {
        let intent_id = event.object["payment_intent"].as_str().unwrap_or_default().to_owned();
        let fully_refunded = event.object["refunded"].as_bool().unwrap_or(false);
        let refund_id = event.object["refunds"]["data"][0]["id"].as_str().map(str::to_owned);
        return conn
            .transaction(async |conn| {
                if !first_delivery(conn, &event.id, &event.kind, now).await? {
                    return Ok::<_, PaymentsError>(WebhookOutcome::Duplicate);
                }
                let Some(order) = store::find_by_intent(conn, &intent_id).await? else {
                    return Ok(WebhookOutcome::Ignored);
                };
                if !fully_refunded || order.refund_requested_at.is_none() || order.status == "refunded" {
                    return Ok(WebhookOutcome::Ignored);
                }
                let refund_id = refund_id.or(order.refund_id).unwrap_or_else(|| "unknown".into());
                finish_refund(conn, order.id, &refund_id, now).await?;
                Ok(WebhookOutcome::Handled)
            })
            .await;
    }
    conn.transaction(async |conn| first_delivery(conn, &event.id, &event.kind, now).await).await?;
    Ok(WebhookOutcome::Ignored)
}
