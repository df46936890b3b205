//! Stripe webhooks: verified by signature, deduplicated by event id in the same transaction as their
//! effect, and acted on by asking Stripe again where it can be asked (the PaymentIntent, its refunds),
//! so late, repeated or out-of-order deliveries cannot move an order backwards. No database
//! connection is held while Stripe answers.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use stripe_gateway::webhook;

use super::refund::{finish_refund, standing_refund};
use super::{Payments, PaymentsError, disputes, settle};
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
pub(super) async fn first_delivery(
    conn: &mut AsyncPgConnection,
    id: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
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
    let verify =
        |secret: &str| webhook::verify(payload, signature.unwrap_or_default(), secret, now.timestamp(), TOLERANCE_SECS);
    // A Connect endpoint (events about sellers' accounts) may have a signing secret of its own.
    let event = match (verify(&payments.settings.webhook_secret), &payments.settings.connect_webhook_secret) {
        (Err(webhook::SignatureError::Mismatch), Some(connect)) => verify(connect),
        (verified, _) => verified,
    }
    .map_err(|err| PaymentsError::InvalidSignature(err.to_string()))?;
    let seen = {
        let mut conn = db::conn(pool).await?;
        stripe_events::table.find(&event.id).count().get_result::<i64>(&mut conn).await? > 0
    };
    if seen {
        return Ok(WebhookOutcome::Duplicate);
    }
    let kind = event.kind.as_str();
    if kind.starts_with("payment_intent.") {
        let Some(intent_id) = event.object["id"].as_str() else {
            return Err(PaymentsError::InvalidSignature("event without a PaymentIntent id".into()));
        };
        // Stripe's current word, not the event's snapshot: events may be late or out of order.
        let intent = payments.gateway.retrieve_intent(intent_id).await?;
        let mut conn = db::conn(pool).await?;
        return conn
            .transaction(async |conn| {
                if !first_delivery(conn, &event.id, kind, now).await? {
                    return Ok::<_, PaymentsError>(WebhookOutcome::Duplicate);
                }
                match store::find_by_intent(conn, intent_id).await? {
                    Some(order) => {
                        settle::settle(conn, order.id, &intent, &payments.terms, now).await?;
                        Ok(WebhookOutcome::Handled)
                    }
                    None => Ok(WebhookOutcome::Ignored),
                }
            })
            .await;
    }
    if kind == "charge.refunded" {
        let intent_id = event.object["payment_intent"].as_str().unwrap_or_default().to_owned();
        // Whoever refunded (we, or someone in Stripe's dashboard), Stripe's list of refunds says how
        // much went back.
        let refunds =
            if intent_id.is_empty() { vec![] } else { payments.gateway.refunds_of_intent(&intent_id).await? };
        let mut conn = db::conn(pool).await?;
        return conn
            .transaction(async |conn| {
                if !first_delivery(conn, &event.id, kind, now).await? {
                    return Ok::<_, PaymentsError>(WebhookOutcome::Duplicate);
                }
                let Some(order) = store::find_by_intent(conn, &intent_id).await? else {
                    return Ok(WebhookOutcome::Ignored);
                };
                if order.status == "refunded" {
                    return Ok(WebhookOutcome::Ignored);
                }
                match standing_refund(&refunds, order.total) {
                    Some(refund) if refund.status == stripe_gateway::RefundStatus::Succeeded => {
                        // Whatever state the order was in, the money went back.
                        finish_refund(conn, order.id, &refund.id, Some("refunded_at_stripe"), now).await?;
                        Ok(WebhookOutcome::Handled)
                    }
                    Some(refund) => {
                        // Under way at Stripe: the order shows it, and reconciliation finishes it.
                        // Lock order: ticket, then order.
                        crate::listings::store::lock_any(conn, order.ticket_id).await?;
                        store::note_refund_reason(conn, order.id, "refunded_at_stripe", now).await?;
                        store::set_refund_id(conn, order.id, &refund.id).await?;
                        Ok(WebhookOutcome::Handled)
                    }
                    None => {
                        tracing::warn!(order_id = %order.id, "partial refund made at Stripe; left for a person");
                        Ok(WebhookOutcome::Ignored)
                    }
                }
            })
            .await;
    }
    if kind == "account.updated" {
        let Some(account_id) = event.object["id"].as_str() else {
            return Err(PaymentsError::InvalidSignature("event without an account id".into()));
        };
        // Stripe's current word about the account, not the event's snapshot.
        let account = match payments.gateway.retrieve_account(account_id).await {
            Ok(account) => Some(account),
            // Not an account of this platform (or deleted since): nothing of ours to update.
            Err(stripe_gateway::GatewayError::Rejected { status: 404, .. }) => None,
            Err(err) => return Err(err.into()),
        };
        let mut conn = db::conn(pool).await?;
        return conn
            .transaction(async |conn| {
                if !first_delivery(conn, &event.id, kind, now).await? {
                    return Ok::<_, PaymentsError>(WebhookOutcome::Duplicate);
                }
                let Some(account) = account else { return Ok(WebhookOutcome::Ignored) };
                Ok(match crate::payouts::onboarding::account_changed(conn, &account, now).await? {
                    Some(_) => WebhookOutcome::Handled,
                    None => WebhookOutcome::Ignored,
                })
            })
            .await;
    }
    if kind.starts_with("charge.dispute.") {
        let mut conn = db::conn(pool).await?;
        return conn
            .transaction(async |conn| {
                if !first_delivery(conn, &event.id, kind, now).await? {
                    return Ok::<_, PaymentsError>(WebhookOutcome::Duplicate);
                }
                Ok(disputes::apply(conn, kind, &event.object, now).await?)
            })
            .await;
    }
    db::conn(pool).await?.transaction(async |conn| first_delivery(conn, &event.id, kind, now).await).await?;
    Ok(WebhookOutcome::Ignored)
}
