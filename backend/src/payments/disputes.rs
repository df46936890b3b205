//! Disputes (chargebacks): the buyer's bank questions a charge. Stripe tells us by webhook only
//! (`charge.dispute.created`, `charge.dispute.closed`); the signed event is the record. An open
//! dispute shows on the order; a lost one means the money went back, so the order is refunded by the
//! refund rules (the listing returns to the market, the buyer gets the refund email once); a won one
//! leaves the sale standing.

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde_json::Value;

use super::refund::finish_refund;
use super::webhooks::WebhookOutcome;
use crate::listings::store as tickets;
use crate::orders::store;

/// Applies a `charge.dispute.*` event's dispute object inside the caller's transaction.
pub async fn apply(
    conn: &mut AsyncPgConnection,
    kind: &str,
    dispute: &Value,
    now: DateTime<Utc>,
) -> QueryResult<WebhookOutcome> {
    let (Some(dispute_id), Some(intent_id)) = (dispute["id"].as_str(), dispute["payment_intent"].as_str()) else {
        return Ok(WebhookOutcome::Ignored);
    };
    let Some(order) = store::find_by_intent(conn, intent_id).await? else {
        return Ok(WebhookOutcome::Ignored);
    };
    // Lock order: ticket, then order.
    tickets::lock_any(conn, order.ticket_id).await?;
    let Some(order) = store::find_for_update(conn, order.id).await? else {
        return Ok(WebhookOutcome::Ignored);
    };
    let status = match (kind, dispute["status"].as_str()) {
        ("charge.dispute.created", _) => "open",
        ("charge.dispute.closed", Some("won" | "warning_closed")) => "won",
        ("charge.dispute.closed", Some("lost")) => "lost",
        _ => return Ok(WebhookOutcome::Ignored),
    };
    if !store::record_dispute(conn, order.id, dispute_id, status, now).await? {
        return Ok(WebhookOutcome::Ignored);
    }
    if status == "lost" && order.status != "refunded" {
        // The bank took the money back, whatever state the order was in.
        finish_refund(conn, order.id, dispute_id, Some("dispute_lost"), now).await?;
    }
    Ok(WebhookOutcome::Handled)
}
