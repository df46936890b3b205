//! Outbox consumers of the payments slice.

use std::sync::Arc;

use stripe_gateway::IntentStatus;

use super::lapsed::{self, Resolution};
use super::refund::{RefundCaller, refund_order};
use super::{Payments, keys, settle_now};
use crate::clock::Clock;
use crate::db::{self, DbPool};
use crate::orders::store;
use crate::outbox::{ConsumerError, Delivery, Event};

/// `order.cancelled` / `order.expired`: cancels the order's PaymentIntent. If it turns out to have
/// been paid, the payment is settled instead (honoured if the listing is still free and as reserved,
/// else refunded).
pub async fn cancel_intent_for_order(
    payments: Arc<Payments>,
    pool: DbPool,
    clock: Arc<dyn Clock>,
    delivery: Delivery,
) -> Result<(), ConsumerError> {
    let (Event::OrderCancelled { order_id, .. } | Event::OrderExpired { order_id, .. }) = delivery.event else {
        return Ok(());
    };
    let order = {
        let mut conn = db::conn(&pool).await.map_err(ConsumerError::new)?;
        store::find(&mut conn, order_id).await.map_err(ConsumerError::new)?
    };
    let Some(order) = order else { return Ok(()) };
    let Some(intent_id) = order.payment_intent_id else {
        return Ok(());
    };
    if order.intent_status.as_deref() == Some(IntentStatus::Canceled.as_str()) {
        // Stripe already said so (the hold ended because of it).
        return Ok(());
    }
    let now = clock.now();
    let mut intent = payments.gateway.retrieve_intent(&intent_id).await.map_err(ConsumerError::new)?;
    if intent.status.is_cancelable() {
        let key = keys::attempt_key(&pool, order_id, "cancel", now).await.map_err(ConsumerError::new)?;
        intent = match payments.gateway.cancel_intent(&intent_id, &key).await {
            Ok(canceled) => canceled,
            // It may have been paid between our look and the cancellation: look again.
            Err(_) => payments.gateway.retrieve_intent(&intent_id).await.map_err(ConsumerError::new)?,
        };
    }
    if intent.status == IntentStatus::Processing {
        return Err(ConsumerError::new("payment still processing; will look again"));
    }
    settle_now(&payments, &pool, order_id, &intent, now).await.map_err(ConsumerError::new)?;
    if intent.status.is_cancelable() {
        return Err(ConsumerError::new(format!("PaymentIntent still {}", intent.status.as_str())));
    }
    Ok(())
}

/// `payment.started`, due when the hold ends: asks Stripe whether the buyer paid before the ticket is
/// released (see [`lapsed`]).
pub async fn resolve_lapsed_hold(
    payments: Arc<Payments>,
    pool: DbPool,
    clock: Arc<dyn Clock>,
    delivery: Delivery,
) -> Result<(), ConsumerError> {
    let Event::PaymentStarted { order_id, .. } = delivery.event else {
        return Ok(());
    };
    match lapsed::resolve(&payments, &pool, order_id, clock.now()).await.map_err(ConsumerError::new)? {
        Resolution::StillProcessing => Err(ConsumerError::new("payment still processing; the ticket stays held")),
        Resolution::NothingToDo | Resolution::Settled | Resolution::Released => Ok(()),
    }
}

/// `order.refund_requested`: refunds a payment that arrived after its listing went to someone else.
pub async fn refund_late_payment(
    payments: Arc<Payments>,
    pool: DbPool,
    clock: Arc<dyn Clock>,
    delivery: Delivery,
) -> Result<(), ConsumerError> {
    let Event::OrderRefundRequested { order_id, .. } = delivery.event else {
        return Ok(());
    };
    refund_order(&payments, &pool, order_id, RefundCaller::Resume, clock.now())
        .await
        .map(drop)
        .map_err(ConsumerError::new)
}
