//! The narrow interface Ticket Exchange needs from Stripe: create, retrieve, attach a payment method
//! to, confirm and cancel PaymentIntents; refund them in full; verify webhook signatures; and, for
//! paying sellers (Connect), connected accounts, onboarding links, transfers and their reversals.
//!
//! Requests are built with async-stripe's typed request builders and sent by its client, with an
//! idempotency key on every write. Responses are read into small types of our own holding only the
//! fields we use, so the same code works against Stripe and against Stripe-compatible servers that
//! return fewer fields (localstripe, in tests and offline).

mod connect;
mod gateway;
pub mod webhook;

pub use connect::{AccountSnapshot, ReversalSnapshot, TransferRequest, TransferSnapshot};
pub use gateway::{GatewayError, IntentSnapshot, IntentStatus, RefundSnapshot, RefundStatus, StripeGateway};

/// The transfer group that links an order's charge to the transfer of its seller's share.
pub fn transfer_group(order_id: &str) -> String {
    format!("order_{order_id}")
}
