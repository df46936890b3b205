//! The narrow interface Ticket Exchange needs from Stripe: create, retrieve, attach a payment method
//! to, confirm and cancel PaymentIntents; refund them in full; verify webhook signatures.
//!
//! Requests are built with async-stripe's typed request builders and sent by its client, with an
//! idempotency key on every write. Responses are read into small types of our own holding only the
//! fields we use, so the same code works against Stripe and against Stripe-compatible servers that
//! return fewer fields (localstripe, in tests and offline).

mod gateway;
pub mod webhook;

pub use gateway::{GatewayError, IntentSnapshot, IntentStatus, RefundSnapshot, RefundStatus, StripeGateway};
