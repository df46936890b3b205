//! Payments. Orders carry no PaymentIntent yet, so an ended hold has nothing to cancel.

use crate::outbox::{ConsumerError, Delivery};

/// Consumer of `order.cancelled` and `order.expired`: cancels the order's PaymentIntent, if any.
pub async fn cancel_intent_for_order(_delivery: Delivery) -> Result<(), ConsumerError> {
    Ok(())
}
