//! The end of a hold whose payment has started. The ticket is not released until Stripe says the
//! PaymentIntent was not paid: a payment Stripe accepted before the hold ended always wins the
//! ticket, however late we hear of it (the buyer's confirm lost its answer, the webhook is late).
//!
//! At the hold's end the `payment.started` event falls due and [`resolve`] asks Stripe: paid, and the
//! order completes; cancelable, and it is cancelled at Stripe, then the hold ends; processing, or
//! Stripe unreachable, and the ticket stays held and the question is asked again. Reconciliation asks
//! the same question of holds that are still waiting. If Stripe cannot be asked at all, the hold ends
//! at the end of its grace (`PAYMENT_GRACE`, `tickets.held_until`) like any other, and a payment heard
//! of later follows the late-payment rules (`settle`).
//!
//! A buyer who cancels a hold whose payment has started goes the same way ([`cancel_by_buyer`]): the
//! PaymentIntent is cancelled at Stripe before the ticket is released, and a payment that went
//! through after all completes the order instead.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use stripe_gateway::{GatewayError, IntentStatus};
use uuid::Uuid;

use super::{Payments, PaymentsError, keys, settle_now};
use crate::db::{self, DbPool};
use crate::listings::store as tickets;
use crate::orders::holds::{self, HoldEnd};
use crate::orders::{OrderRow, store};

/// What asking Stripe about a lapsed hold did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The order was not holding any more (paid, cancelled or expired already), or its hold has not
    /// ended yet.
    NothingToDo,
    /// Stripe had been paid: the payment was settled (completed in time, or late).
    Settled,
    /// Stripe says the PaymentIntent was not paid and now cannot be: the hold ended.
    Released,
    /// Stripe is still processing the payment; the ticket stays held.
    StillProcessing,
}

/// Asks Stripe whether the lapsed hold of `order_id` was paid, and ends it accordingly.
pub async fn resolve(
    payments: &Payments,
    pool: &DbPool,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Resolution, PaymentsError> {
    let order = {
        let mut conn = db::conn(pool).await?;
        store::find(&mut conn, order_id).await?
    };
    let Some(order) = order else { return Ok(Resolution::NothingToDo) };
    if !crate::orders::lapsed(&order, now) {
        return Ok(Resolution::NothingToDo);
    }
    end(payments, pool, &order, HoldEnd::Lapsed, now).await
}

/// The buyer cancels their hold whose payment has started: Stripe first, then the ticket. Returns the
/// order as it then stands (cancelled, or complete if the payment had gone through).
pub async fn cancel_by_buyer(
    payments: &Payments,
    pool: &DbPool,
    buyer_id: Uuid,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> Result<OrderRow, PaymentsError> {
    let mut conn = db::conn(pool).await?;
    let order = store::find(&mut conn, order_id)
        .await?
        .filter(|order| order.buyer_id == buyer_id)
        .ok_or(PaymentsError::OrderNotFound)?;
    drop(conn);
    if !store::HOLDING.contains(&order.status.as_str()) {
        return Err(PaymentsError::NotCancellable { status: order.status });
    }
    let ending = if crate::orders::lapsed(&order, now) { HoldEnd::Lapsed } else { HoldEnd::BuyerCancelled };
    if end(payments, pool, &order, ending, now).await? == Resolution::StillProcessing {
        return Err(PaymentsError::StillProcessing);
    }
    let mut conn = db::conn(pool).await?;
    store::find(&mut conn, order_id).await?.ok_or(PaymentsError::OrderNotFound)
}

async fn end(
    payments: &Payments,
    pool: &DbPool,
    order: &OrderRow,
    ending: HoldEnd,
    now: DateTime<Utc>,
) -> Result<Resolution, PaymentsError> {
    let order_id = order.id;
    let Some(intent_id) = order.payment_intent_id.as_deref() else {
        return Ok(Resolution::NothingToDo);
    };
    let mut intent = payments.gateway.retrieve_intent(intent_id).await?;
    if intent.status.is_cancelable() {
        // A key per attempt: Stripe replays a key's first answer, a failure included.
        let key = keys::attempt_key(pool, order_id, "cancel", now).await?;
        intent = match payments.gateway.cancel_intent(intent_id, &key).await {
            Ok(canceled) => canceled,
            // Stripe refused: it may have been paid between our look and the cancellation. Look again.
            Err(GatewayError::Rejected { .. }) => payments.gateway.retrieve_intent(intent_id).await?,
            Err(err) => return Err(err.into()),
        };
    }
    match intent.status {
        IntentStatus::Succeeded => {
            settle_now(payments, pool, order_id, &intent, now).await?;
            Ok(Resolution::Settled)
        }
        IntentStatus::Canceled => {
            let mut conn = db::conn(pool).await?;
            let ended = conn
                .transaction(async |conn| {
                    tickets::lock_any(conn, order.ticket_id).await?;
                    store::find_for_update(conn, order_id).await?;
                    store::record_intent_status(conn, order_id, intent.status.as_str(), now).await?;
                    let ended = holds::end(conn, order.ticket_id, order_id, ending, now).await?;
                    if ended.is_some() {
                        crate::waitlist::offer(conn, order.ticket_id, now).await?;
                    }
                    Ok::<_, diesel::result::Error>(ended)
                })
                .await?;
            Ok(if ended.is_some() { Resolution::Released } else { Resolution::NothingToDo })
        }
        IntentStatus::Processing => Ok(Resolution::StillProcessing),
        other => {
            Err(PaymentsError::ProviderRejected(format!("PaymentIntent still {} after cancelling", other.as_str())))
        }
    }
}
