//! Sellers get paid, through Stripe Connect with separate charges and transfers: the buyer pays the
//! platform (as in [`crate::payments`]); each completed order records in the ledger how its total
//! splits ([`ledger`]); when the buyer's refund window closes (the event's start) the seller's share
//! is transferred to their connected account ([`transfer`]), and a sale refunded after that has its
//! transfer reversed ([`reversal`]). Sellers open their account through Stripe's hosted onboarding
//! ([`onboarding`]), and Stripe's `account.updated` keeps what we know of it current.
//!
//! Anyone may list and sell without an account: a share that falls due before its seller's account
//! can take transfers waits (`awaiting_account`) and is transferred as soon as it can.

pub mod accounts;
pub mod api;
pub mod ledger;
pub mod onboarding;
pub mod reversal;
mod terms;
pub mod transfer;

use std::sync::Arc;

use stripe_gateway::GatewayError;

pub use terms::{PayoutTerms, Split};

use crate::clock::Clock;
use crate::db::{DbError, DbPool};
use crate::outbox::{ConsumerError, Delivery, Event};
use crate::payments::Payments;

#[derive(Debug, thiserror::Error)]
pub enum PayoutsError {
    #[error("payments are not configured")]
    NotConfigured,
    #[error("Stripe unreachable: {0}")]
    ProviderUnavailable(String),
    #[error("Stripe refused: {0}")]
    ProviderRejected(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for PayoutsError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Db(err.into())
    }
}

impl From<GatewayError> for PayoutsError {
    fn from(err: GatewayError) -> Self {
        match err {
            GatewayError::Unreachable(reason) => Self::ProviderUnavailable(reason),
            other => Self::ProviderRejected(other.to_string()),
        }
    }
}

/// What a consumer's step came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing left to do for this delivery.
    Done,
    /// Another worker, or a refund, has the order in hand right now: try again later.
    Busy(&'static str),
}

fn consumer_outcome(step: Result<Step, PayoutsError>) -> Result<(), ConsumerError> {
    match step {
        Ok(Step::Done) => Ok(()),
        Ok(Step::Busy(reason)) => Err(ConsumerError::busy(reason)),
        Err(err) => Err(ConsumerError::new(err)),
    }
}

/// `payout.due`: transfers the seller's share of an order.
pub async fn transfer_due_share(
    payments: Arc<Payments>,
    pool: DbPool,
    clock: Arc<dyn Clock>,
    delivery: Delivery,
) -> Result<(), ConsumerError> {
    let Event::PayoutDue { order_id, .. } = delivery.event else {
        return Ok(());
    };
    consumer_outcome(transfer::transfer_share(&payments, &pool, order_id, clock.now()).await)
}

/// `order.refunded`: cancels the seller's share, or reverses its transfer.
pub async fn reverse_refunded_share(
    payments: Arc<Payments>,
    pool: DbPool,
    clock: Arc<dyn Clock>,
    delivery: Delivery,
) -> Result<(), ConsumerError> {
    let Event::OrderRefunded { order_id, .. } = delivery.event else {
        return Ok(());
    };
    consumer_outcome(reversal::take_back_share(&payments, &pool, order_id, clock.now()).await)
}
