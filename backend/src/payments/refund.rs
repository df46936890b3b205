//! Full refunds. An order becomes `refunded` only when Stripe says the refund succeeded.

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use stripe_gateway::{GatewayError, RefundSnapshot, RefundStatus};
use uuid::Uuid;

use super::{Payments, PaymentsError, keys};
use crate::db::{self, DbPool};
use crate::listings::store as tickets;
use crate::orders::{OrderRow, holds, store};
use crate::outbox::{self, Event};

/// Who is asking for the refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundCaller {
    /// The buyer, through the API: only for a completed order, once.
    Buyer(Uuid),
    /// The system, finishing a refund it already asked for (late payments, recovery after a crash).
    Resume,
}

#[derive(Debug)]
pub enum RefundOutcome {
    Refunded(OrderRow),
    /// Stripe accepted the refund but has not finished it; a webhook or reconciliation completes it.
    Pending(OrderRow),
}

/// Refunds the whole total of `order_id`.
pub async fn refund_order(
    payments: &Payments,
    pool: &DbPool,
    order_id: Uuid,
    caller: RefundCaller,
    now: DateTime<Utc>,
) -> Result<RefundOutcome, PaymentsError> {
    let order = db::conn(pool)
        .await?
        .transaction(async |conn| {
            let order = store::find_for_update(conn, order_id).await?.ok_or(PaymentsError::OrderNotFound)?;
            if let RefundCaller::Buyer(buyer) = caller {
                if order.buyer_id != buyer {
                    return Err(PaymentsError::OrderNotFound);
                }
                match order.status.as_str() {
                    "refunded" => return Ok(order),
                    "complete" if order.refund_requested_at.is_none() => {
                        if let Some(started) = order.event_starts_at.filter(|start| *start <= now) {
                            return Err(PaymentsError::RefundWindowClosed { event_started_at: started });
                        }
                        return Ok(store::request_refund(conn, order_id, "requested_by_buyer", now).await?);
                    }
                    "complete" => return Err(PaymentsError::RefundInProgress),
                    status => return Err(PaymentsError::RefundNotAllowed { status: status.to_owned() }),
                }
            }
            Ok(order)
        })
        .await?;
    if order.status == "refunded" {
        return Ok(RefundOutcome::Refunded(order));
    }
    if order.refund_requested_at.is_none() {
        return Err(PaymentsError::RefundNotAllowed { status: order.status });
    }
    let intent_id =
        order.payment_intent_id.clone().ok_or(PaymentsError::RefundNotAllowed { status: order.status.clone() })?;
    // An earlier request may have reached Stripe without its answer reaching us, or someone may have
    // refunded at Stripe: Stripe's list of the PaymentIntent's refunds says what stands. (Re-sending an
    // earlier request's key would only replay its first answer, an error included.)
    let refunds = payments.gateway.refunds_of_intent(&intent_id).await?;
    if let Some(found) = standing_refund(&refunds, order.total) {
        return record(pool, order_id, found, caller, now).await;
    }
    // No refund stands: ask for one, counting the attempt (and so naming its key) before the call.
    let attempt = {
        let mut conn = db::conn(pool).await?;
        match store::next_refund_attempt(&mut conn, order_id, order.refund_attempts).await? {
            Some(attempt) => attempt,
            // Another worker started an attempt since we looked: it is theirs to finish.
            None => {
                let order = store::find(&mut conn, order_id).await?.ok_or(PaymentsError::OrderNotFound)?;
                return Ok(RefundOutcome::Pending(order));
            }
        }
    };
    let operation = if attempt == 1 { "refund".to_owned() } else { format!("refund:{attempt}") };
    let key = keys::idempotency_key(pool, order_id, &operation, now).await?;
    match payments.gateway.refund_intent(&intent_id, order.total, &key).await {
        Ok(refund) => record(pool, order_id, refund, caller, now).await,
        Err(GatewayError::Rejected { code: Some(code), .. }) if code == "charge_already_refunded" => {
            let refunds = payments.gateway.refunds_of_intent(&intent_id).await?;
            let found = standing_refund(&refunds, order.total).unwrap_or_else(|| RefundSnapshot {
                id: "already_refunded".into(),
                status: RefundStatus::Succeeded,
                amount: order.total,
            });
            record(pool, order_id, found, caller, now).await
        }
        Err(GatewayError::Rejected { status, message, .. }) if status < 500 => {
            // Stripe refused outright and did nothing: the buyer may ask again.
            if matches!(caller, RefundCaller::Buyer(_)) {
                let mut conn = db::conn(pool).await?;
                store::clear_refund_request(&mut conn, order_id, now).await?;
            }
            Err(PaymentsError::RefundFailed(message))
        }
        Err(err) => {
            // No answer, or Stripe failed mid-way: the refund may or may not have happened. It stays
            // requested, and reconciliation settles it from Stripe's list of refunds.
            tracing::warn!(%order_id, error = %err, "refund outcome unknown; left for reconciliation");
            let mut conn = db::conn(pool).await?;
            Ok(RefundOutcome::Pending(store::find(&mut conn, order_id).await?.ok_or(PaymentsError::OrderNotFound)?))
        }
    }
}

/// The refund that stands for the whole `total`: succeeded ones adding up to it, else one still
/// pending. `None` when none does (none was made, or they failed).
pub fn standing_refund(refunds: &[RefundSnapshot], total: i64) -> Option<RefundSnapshot> {
    let succeeded: i64 =
        refunds.iter().filter(|refund| refund.status == RefundStatus::Succeeded).map(|refund| refund.amount).sum();
    if succeeded >= total {
        return refunds.iter().find(|refund| refund.status == RefundStatus::Succeeded).cloned();
    }
    refunds.iter().find(|refund| matches!(refund.status, RefundStatus::Pending | RefundStatus::RequiresAction)).cloned()
}

/// Records what Stripe said of a refund.
async fn record(
    pool: &DbPool,
    order_id: Uuid,
    refund: RefundSnapshot,
    caller: RefundCaller,
    now: DateTime<Utc>,
) -> Result<RefundOutcome, PaymentsError> {
    let mut conn = db::conn(pool).await?;
    match refund.status {
        RefundStatus::Succeeded => {
            let order =
                conn.transaction(async |conn| finish_refund(conn, order_id, &refund.id, None, now).await).await?;
            Ok(RefundOutcome::Refunded(order))
        }
        RefundStatus::Pending | RefundStatus::RequiresAction => {
            store::set_refund_id(&mut conn, order_id, &refund.id).await?;
            Ok(RefundOutcome::Pending(store::find(&mut conn, order_id).await?.ok_or(PaymentsError::OrderNotFound)?))
        }
        RefundStatus::Failed | RefundStatus::Canceled => {
            if matches!(caller, RefundCaller::Buyer(_)) {
                store::clear_refund_request(&mut conn, order_id, now).await?;
            }
            Err(PaymentsError::RefundFailed(format!("Stripe reports the refund {:?}", refund.status).to_lowercase()))
        }
    }
}

/// Marks the order refunded (inside the caller's transaction), naming `reason` when nothing asked for
/// the refund through the API (a refund made at Stripe, a lost dispute). The ticket follows: a sold
/// listing returns to the market, and a hold (money returned before the order settled) ends.
pub async fn finish_refund(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    refund_id: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<OrderRow> {
    let Some(order) = store::find(conn, order_id).await? else {
        return Err(diesel::result::Error::NotFound);
    };
    // Lock order: ticket, then order.
    tickets::lock_any(conn, order.ticket_id).await?;
    let order = store::find_for_update(conn, order_id).await?.ok_or(diesel::result::Error::NotFound)?;
    if order.status == "refunded" {
        return Ok(order);
    }
    if let Some(reason) = reason {
        store::note_refund_reason(conn, order_id, reason, now).await?;
    }
    let refunded = store::mark_refunded(conn, order_id, refund_id, now).await?;
    if order.status == "complete" {
        holds::unsell(conn, order.ticket_id, now).await?;
    } else if store::HOLDING.contains(&order.status.as_str()) {
        holds::release(conn, order.ticket_id, order_id, now).await?;
    }
    let event = Event::OrderRefunded {
        order_id,
        ticket_id: order.ticket_id,
        buyer_id: order.buyer_id,
        late_payment: refunded.refund_reason.as_deref() == Some("paid_after_hold_lapsed"),
        version: refunded.version,
    };
    outbox::record(conn, &event, now).await?;
    if store::HOLDING.contains(&order.status.as_str()) {
        crate::waitlist::offer(conn, order.ticket_id, now).await?;
    }
    Ok(refunded)
}
