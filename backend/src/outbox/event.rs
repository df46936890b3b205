//! Domain events: the facts that state changes record in the outbox, in the same transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Something that happened. The JSON form (`{"type": "order.created", ...}`) is what consumers read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Event {
    #[serde(rename = "ticket.created")]
    TicketCreated { ticket_id: Uuid, version: i32 },
    #[serde(rename = "ticket.updated")]
    TicketUpdated { ticket_id: Uuid, version: i32 },
    #[serde(rename = "ticket.deleted")]
    TicketDeleted { ticket_id: Uuid, version: i32 },
    /// A buyer reserved a listing until `expires_at`.
    #[serde(rename = "order.created")]
    OrderCreated { order_id: Uuid, ticket_id: Uuid, buyer_id: Uuid, expires_at: DateTime<Utc>, version: i32 },
    /// The first in a listing's waitlist was given its hold (the order `order_id`) until `expires_at`.
    #[serde(rename = "waitlist.offered")]
    WaitlistOffered { order_id: Uuid, ticket_id: Uuid, buyer_id: Uuid, expires_at: DateTime<Utc> },
    /// The buyer released the hold.
    #[serde(rename = "order.cancelled")]
    OrderCancelled { order_id: Uuid, ticket_id: Uuid, version: i32 },
    /// The hold lapsed and the listing went back on the market.
    #[serde(rename = "order.expired")]
    OrderExpired { order_id: Uuid, ticket_id: Uuid, version: i32 },
    /// Payment succeeded and the ticket is sold to the buyer. `late` when it was paid after its hold
    /// lapsed and the listing was still free.
    #[serde(rename = "order.completed")]
    OrderCompleted { order_id: Uuid, ticket_id: Uuid, buyer_id: Uuid, late: bool, version: i32 },
    /// A payment arrived after the hold lapsed and the listing had gone to someone else: the money must
    /// go back.
    #[serde(rename = "order.refund_requested")]
    OrderRefundRequested { order_id: Uuid, version: i32 },
    /// The buyer started paying: a PaymentIntent exists, so the hold is not released at its end until
    /// Stripe says the intent was not paid.
    #[serde(rename = "payment.started")]
    PaymentStarted { order_id: Uuid, ticket_id: Uuid, hold_ends_at: DateTime<Utc>, version: i32 },
    /// Stripe confirmed a full refund.
    #[serde(rename = "order.refunded")]
    OrderRefunded { order_id: Uuid, ticket_id: Uuid, buyer_id: Uuid, late_payment: bool, version: i32 },
    /// The seller's share of a completed order falls due (recorded at the sale, due when the refund
    /// window closes) or falls due again (the seller's account became ready).
    #[serde(rename = "payout.due")]
    PayoutDue { order_id: Uuid, seller_id: Uuid },
}

impl Event {
    /// The stable name stored in `outbox_events.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TicketCreated { .. } => "ticket.created",
            Self::TicketUpdated { .. } => "ticket.updated",
            Self::TicketDeleted { .. } => "ticket.deleted",
            Self::OrderCreated { .. } => "order.created",
            Self::WaitlistOffered { .. } => "waitlist.offered",
            Self::OrderCancelled { .. } => "order.cancelled",
            Self::OrderExpired { .. } => "order.expired",
            Self::OrderCompleted { .. } => "order.completed",
            Self::OrderRefundRequested { .. } => "order.refund_requested",
            Self::OrderRefunded { .. } => "order.refunded",
            Self::PaymentStarted { .. } => "payment.started",
            Self::PayoutDue { .. } => "payout.due",
        }
    }

    /// The entity the event is about.
    pub fn aggregate_id(&self) -> Uuid {
        match self {
            Self::TicketCreated { ticket_id, .. }
            | Self::TicketUpdated { ticket_id, .. }
            | Self::TicketDeleted { ticket_id, .. } => *ticket_id,
            Self::OrderCreated { order_id, .. }
            | Self::WaitlistOffered { order_id, .. }
            | Self::OrderCancelled { order_id, .. }
            | Self::OrderExpired { order_id, .. }
            | Self::OrderCompleted { order_id, .. }
            | Self::OrderRefundRequested { order_id, .. }
            | Self::OrderRefunded { order_id, .. }
            | Self::PaymentStarted { order_id, .. }
            | Self::PayoutDue { order_id, .. } => *order_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_matches_the_serialized_type_tag() {
        let events = [
            Event::TicketUpdated { ticket_id: Uuid::nil(), version: 3 },
            Event::OrderExpired { order_id: Uuid::nil(), ticket_id: Uuid::nil(), version: 2 },
        ];
        for event in events {
            let json = serde_json::to_value(&event).expect("serializes");
            assert_eq!(json["type"], event.kind());
            assert_eq!(serde_json::from_value::<Event>(json).expect("round trip"), event);
        }
    }
}
