//! The one transition from what Stripe says about a PaymentIntent to the order's state. Confirm,
//! webhooks, the expiry consumer and reconciliation all end here; it is idempotent and only moves
//! an order forward.

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use stripe_gateway::{IntentSnapshot, IntentStatus};
use uuid::Uuid;

use crate::listings::domain::TicketStatus;
use crate::listings::store as tickets;
use crate::orders::{holds, store};
use crate::outbox::{self, Event};

/// What settling changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Paid within the hold: sold.
    Completed,
    /// Paid after the hold lapsed, and the listing was still free: sold.
    CompletedLate,
    /// Paid after the hold lapsed, and the listing had gone: a refund is requested.
    RefundRequested,
    /// Nothing to do (not paid, already settled, or not this order's PaymentIntent).
    Unchanged,
}

/// Applies `intent` to order `order_id` inside the caller's transaction.
pub async fn settle(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    intent: &IntentSnapshot,
    now: DateTime<Utc>,
) -> QueryResult<Settlement> {
    let Some(order) = store::find(conn, order_id).await? else {
        return Ok(Settlement::Unchanged);
    };
    // Lock order: ticket, then order.
    let ticket = tickets::lock_any(conn, order.ticket_id).await?;
    let Some(order) = store::find_for_update(conn, order_id).await? else {
        return Ok(Settlement::Unchanged);
    };
    if order.payment_intent_id.as_deref() != Some(intent.id.as_str()) {
        tracing::warn!(%order_id, intent = %intent.id, "PaymentIntent does not belong to this order; ignored");
        return Ok(Settlement::Unchanged);
    }
    store::record_intent_status(conn, order_id, intent.status.as_str(), now).await?;
    if intent.status != IntentStatus::Succeeded {
        return Ok(Settlement::Unchanged);
    }
    if intent.amount != order.total || !intent.currency.eq_ignore_ascii_case(&order.currency) {
        tracing::error!(
            %order_id,
            intent = %intent.id,
            charged = intent.amount,
            expected = order.total,
            "PaymentIntent amount differs from the order total; left for a person to resolve"
        );
        return Ok(Settlement::Unchanged);
    }
    let Some(ticket) = ticket else {
        return Ok(Settlement::Unchanged);
    };
    match order.status.as_str() {
        "created" | "awaiting_payment" | "cancelled" => {}
        _ => return Ok(Settlement::Unchanged),
    }
    let late = order.status == "cancelled";
    if late && order.refund_reason.is_some() {
        return Ok(Settlement::Unchanged);
    }
    if ticket.deleted_at.is_none() && ticket.hold_order_id != Some(order_id) {
        // Someone else's hold that has lapsed no longer counts.
        holds::expire_if_lapsed(conn, &ticket, now).await?;
    }
    let free_or_ours = ticket.hold_order_id == Some(order_id) || ticket.status_at(now) == TicketStatus::Available;
    if ticket.deleted_at.is_none() && free_or_ours && holds::sell(conn, ticket.id, order_id, now).await? {
        let completed = store::complete(conn, order_id, now).await?;
        let event = Event::OrderCompleted {
            order_id,
            ticket_id: ticket.id,
            buyer_id: order.buyer_id,
            late,
            version: completed.version,
        };
        outbox::record(conn, &event, now).await?;
        return Ok(if late { Settlement::CompletedLate } else { Settlement::Completed });
    }
    // Paid, but the listing went to someone else: the money goes back.
    let requested = store::request_refund(conn, order_id, "paid_after_hold_lapsed", now).await?;
    if !late {
        // A holding order always holds its ticket, so this is unreachable unless data was edited by hand.
        tracing::error!(%order_id, "paid holding order did not hold its ticket; refunding");
    }
    outbox::record(conn, &Event::OrderRefundRequested { order_id, version: requested.version }, now).await?;
    Ok(Settlement::RefundRequested)
}
