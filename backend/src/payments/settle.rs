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
use crate::payouts::PayoutTerms;

/// What settling changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Paid within the hold: sold.
    Completed,
    /// Paid after the hold lapsed (or heard of after the hold ended), and the listing was still free
    /// and as reserved: sold.
    CompletedLate,
    /// Paid after the hold ended, and the listing had gone or changed: a refund is requested.
    RefundRequested,
    /// Nothing to do (not paid, already settled, or not this order's PaymentIntent).
    Unchanged,
}

/// Applies `intent` to order `order_id` inside the caller's transaction.
pub async fn settle(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    intent: &IntentSnapshot,
    terms: &PayoutTerms,
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
    if intent.refunded {
        // The money already went back (refunded at Stripe): nothing is sold for it.
        if order.refund_requested_at.is_some() {
            return Ok(Settlement::Unchanged);
        }
        let requested = store::request_refund(conn, order_id, "refunded_at_stripe", now).await?;
        outbox::record(conn, &Event::OrderRefundRequested { order_id, version: requested.version }, now).await?;
        return Ok(Settlement::RefundRequested);
    }
    // Late or not is judged by when Stripe charged the card, not by when we heard of it (which is the
    // best there is only when Stripe does not say).
    let charged_at = intent.paid_at.and_then(|secs| DateTime::from_timestamp(secs, 0));
    let paid_at = charged_at.unwrap_or(now);
    let holding = match order.status.as_str() {
        "created" | "awaiting_payment" => true,
        "cancelled" if order.refund_reason.is_none() => false,
        _ => return Ok(Settlement::Unchanged),
    };
    if let Some(charged_at) = charged_at {
        store::record_paid_at(conn, order_id, charged_at).await?;
    }
    let late = !holding || paid_at > order.expires_at;
    // A ticket is for its event: a payment made once the event had started buys nothing, unless it
    // was made within the hold (which never outlives the start). Judged by when Stripe charged the
    // card, whatever the time now. Orders from before events were recorded have no such deadline.
    let before_event = paid_at <= order.expires_at || order.event_starts_at.is_none_or(|start| paid_at < start);
    let sold = if !before_event {
        false
    } else if holding {
        // Still holding: the ticket is this order's, as reserved (a held listing cannot be edited).
        ticket.hold_order_id == Some(order_id) && holds::sell(conn, ticket.id, order_id, now).await?
    } else {
        // The hold ended before the payment was heard of. It buys the listing only as it was reserved:
        // still listed, the same event and start, same price and currency, and free (someone else's
        // lapsed hold no longer counts).
        let as_reserved = ticket.deleted_at.is_none()
            && ticket.price == order.price
            && ticket.currency == order.currency
            && ticket.event_name == order.ticket_title
            && ticket.event_starts_at == order.event_starts_at;
        if as_reserved && ticket.hold_order_id != Some(order_id) {
            holds::expire_if_lapsed(conn, &ticket, now).await?;
        }
        as_reserved
            && ticket.status_at(now) == TicketStatus::Available
            && holds::sell(conn, ticket.id, order_id, now).await?
    };
    if sold {
        let completed = store::complete(conn, order_id, now).await?;
        // The ledger row, in the same transaction: the sale's money is split from the moment it is.
        crate::payouts::ledger::record_sale(conn, &completed, ticket.owner_id, terms, now).await?;
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
    if holding {
        // A holding order always holds its ticket, so this is unreachable unless data was edited by hand.
        tracing::error!(%order_id, "paid holding order did not hold its ticket; refunding");
    }
    // Paid, but the listing went to someone else or changed: the money goes back.
    let requested = store::request_refund(conn, order_id, "paid_after_hold_lapsed", now).await?;
    outbox::record(conn, &Event::OrderRefundRequested { order_id, version: requested.version }, now).await?;
    Ok(Settlement::RefundRequested)
}
