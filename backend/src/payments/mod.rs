//! Payments through Stripe PaymentIntents: starting and confirming a payment, webhooks, refunds,
//! cancelling the PaymentIntents of ended holds, and reconciliation.
//!
//! Every Stripe write carries an idempotency key committed before the call ([`keys`]). Whatever
//! reports a PaymentIntent's state (the buyer's confirm, a webhook, the expiry consumer,
//! reconciliation) goes through one idempotent transition ([`settle::settle`]).

pub mod api;
mod billing;
mod consumers;
pub mod disputes;
pub(crate) mod keys;
pub mod lapsed;
pub mod reconcile;
pub mod refund;
pub mod settle;
pub mod webhooks;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use stripe_gateway::{GatewayError, IntentSnapshot, IntentStatus, StripeGateway};
use uuid::Uuid;

pub use billing::Billing;
pub use consumers::{cancel_intent_for_order, refund_late_payment, resolve_lapsed_hold};
pub use settle::Settlement;

use crate::config::StripeSettings;
use crate::db::{self, DbError, DbPool};
use crate::orders::{OrderRow, holds, store};
use crate::outbox::{self, Event};
use crate::payouts::PayoutTerms;
use crate::validation::Invalid;

/// Stripe, as configured, and the terms a sale's money is split by.
pub struct Payments {
    pub gateway: StripeGateway,
    pub settings: StripeSettings,
    pub terms: PayoutTerms,
}

impl Payments {
    pub fn new(settings: StripeSettings, terms: PayoutTerms) -> Result<Self, GatewayError> {
        let gateway = StripeGateway::new(&settings.secret_key, settings.api_base.as_deref())?;
        Ok(Self { gateway, settings, terms })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    #[error("payments are not configured")]
    NotConfigured,
    #[error("order not found")]
    OrderNotFound,
    #[error("order is {status} and cannot be paid")]
    NotPayable { status: String },
    #[error("the hold has lapsed")]
    HoldLapsed,
    #[error("order is already paid")]
    AlreadyPaid,
    #[error("payment has not been started")]
    NotStarted,
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("card declined: {0}")]
    Declined(String),
    #[error("Stripe unreachable: {0}")]
    ProviderUnavailable(String),
    #[error("Stripe refused: {0}")]
    ProviderRejected(String),
    #[error("order is {status} and cannot be refunded")]
    RefundNotAllowed { status: String },
    #[error("a refund is already in progress")]
    RefundInProgress,
    /// Refunds close when the event starts.
    #[error("the event started at {event_started_at}; refunds are closed")]
    RefundWindowClosed { event_started_at: DateTime<Utc> },
    #[error("order is {status} and cannot be cancelled")]
    NotCancellable { status: String },
    #[error("the payment is still being processed")]
    StillProcessing,
    #[error("only full refunds are possible")]
    PartialRefund,
    #[error("refund failed: {0}")]
    RefundFailed(String),
    #[error("webhook signature rejected: {0}")]
    InvalidSignature(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for PaymentsError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Db(err.into())
    }
}

impl From<GatewayError> for PaymentsError {
    fn from(err: GatewayError) -> Self {
        match err {
            GatewayError::Declined { message, .. } => Self::Declined(message),
            GatewayError::Unreachable(reason) => Self::ProviderUnavailable(reason),
            other => Self::ProviderRejected(other.to_string()),
        }
    }
}

/// What the client needs to take a payment.
#[derive(Debug)]
pub struct PaymentSession {
    pub order: OrderRow,
    pub intent: IntentSnapshot,
}

async fn buyers_order(pool: &DbPool, buyer_id: Uuid, order_id: Uuid) -> Result<OrderRow, PaymentsError> {
    let mut conn = db::conn(pool).await?;
    store::find(&mut conn, order_id)
        .await?
        .filter(|order| order.buyer_id == buyer_id)
        .ok_or(PaymentsError::OrderNotFound)
}

fn ensure_payable(order: &OrderRow, now: DateTime<Utc>) -> Result<(), PaymentsError> {
    match order.status.as_str() {
        "complete" => Err(PaymentsError::AlreadyPaid),
        "created" | "awaiting_payment" if order.expires_at <= now => Err(PaymentsError::HoldLapsed),
        "created" | "awaiting_payment" => Ok(()),
        "cancelled" if order.cancel_reason.as_deref() == Some("expired") => Err(PaymentsError::HoldLapsed),
        status => Err(PaymentsError::NotPayable { status: status.to_owned() }),
    }
}

/// The buyer's Stripe Customer, created on first payment. No connection is held while Stripe answers.
async fn customer_for(
    payments: &Payments,
    pool: &DbPool,
    order: &OrderRow,
    now: DateTime<Utc>,
) -> Result<String, PaymentsError> {
    use crate::db::schema::users;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    let (email, existing): (String, Option<String>) = {
        let mut conn = db::conn(pool).await?;
        users::table.find(order.buyer_id).select((users::email, users::stripe_customer_id)).first(&mut conn).await?
    };
    if let Some(customer) = existing {
        return Ok(customer);
    }
    let key = keys::idempotency_key(pool, order.id, "create_customer", now).await?;
    let created = payments.gateway.create_customer(&email, &order.buyer_id.to_string(), &key).await?;
    let mut conn = db::conn(pool).await?;
    diesel::update(users::table.find(order.buyer_id).filter(users::stripe_customer_id.is_null()))
        .set(users::stripe_customer_id.eq(Some(&created)))
        .execute(&mut conn)
        .await?;
    let saved: Option<String> =
        users::table.find(order.buyer_id).select(users::stripe_customer_id).first(&mut conn).await?;
    Ok(saved.unwrap_or(created))
}

/// Starts paying for an order: creates its PaymentIntent, or returns the one it already has.
///
/// From here on the hold is not released at its end without asking Stripe: the ticket stays held
/// until `grace` after the hold's end, and a `payment.started` event falls due at the hold's end to
/// ask Stripe whether the buyer paid (see [`lapsed`]).
pub async fn start(
    payments: &Payments,
    pool: &DbPool,
    buyer_id: Uuid,
    order_id: Uuid,
    now: DateTime<Utc>,
    grace: std::time::Duration,
) -> Result<PaymentSession, PaymentsError> {
    let order = buyers_order(pool, buyer_id, order_id).await?;
    ensure_payable(&order, now)?;
    if let Some(intent_id) = &order.payment_intent_id {
        let intent = payments.gateway.retrieve_intent(intent_id).await?;
        return Ok(PaymentSession { order, intent });
    }
    let customer = customer_for(payments, pool, &order, now).await?;
    let key = keys::idempotency_key(pool, order_id, "create_intent", now).await?;
    let intent =
        payments.gateway.create_intent(order.total, &order.currency, &customer, &order_id.to_string(), &key).await?;
    // No hold outlives the event's start, the grace of a payment in flight included.
    let held_until = (order.expires_at + chrono::TimeDelta::from_std(grace).unwrap_or(chrono::TimeDelta::MAX))
        .min(order.event_starts_at.unwrap_or(DateTime::<Utc>::MAX_UTC))
        .max(order.expires_at);
    let started = {
        let mut conn = db::conn(pool).await?;
        conn.transaction(async |conn| {
            crate::listings::store::lock_any(conn, order.ticket_id).await?;
            store::find_for_update(conn, order_id).await?;
            let Some(started) = store::start_payment(conn, order_id, &intent.id, intent.status.as_str(), now).await?
            else {
                return Ok::<_, diesel::result::Error>(None);
            };
            holds::extend_for_payment(conn, order.ticket_id, order_id, held_until, now).await?;
            let event = Event::PaymentStarted {
                order_id,
                ticket_id: order.ticket_id,
                hold_ends_at: started.expires_at,
                version: started.version,
            };
            outbox::record_due(conn, &event, now, started.expires_at).await?;
            Ok(Some(started))
        })
        .await?
    };
    match started {
        Some(order) => Ok(PaymentSession { order, intent }),
        None => {
            // Another request got there first, or the hold ended meanwhile.
            let order = {
                let mut conn = db::conn(pool).await?;
                store::find(&mut conn, order_id).await?.ok_or(PaymentsError::OrderNotFound)?
            };
            match order.payment_intent_id.as_deref() {
                Some(existing) if existing == intent.id => Ok(PaymentSession { order, intent }),
                Some(existing) => {
                    let existing = payments.gateway.retrieve_intent(existing).await?;
                    release_orphan(payments, pool, order_id, &intent, now).await;
                    Ok(PaymentSession { order, intent: existing })
                }
                None => {
                    release_orphan(payments, pool, order_id, &intent, now).await;
                    ensure_payable(&order, now)?;
                    Err(PaymentsError::NotPayable { status: order.status })
                }
            }
        }
    }
}

/// Cancels a PaymentIntent no order will use (best effort: an uncharged intent costs nothing).
async fn release_orphan(
    payments: &Payments,
    pool: &DbPool,
    order_id: Uuid,
    intent: &IntentSnapshot,
    now: DateTime<Utc>,
) {
    if let Ok(key) = keys::idempotency_key(pool, order_id, &format!("cancel_orphan:{}", intent.id), now).await
        && let Err(err) = payments.gateway.cancel_intent(&intent.id, &key).await
    {
        tracing::warn!(%order_id, intent = %intent.id, error = %err, "could not cancel an unused PaymentIntent");
    }
}

/// What the buyer sends to pay: a card token from Stripe.js (`tok_...`) and the billing details.
#[derive(Debug)]
pub struct PaymentAttempt {
    pub card_token: String,
    pub billing: Billing,
}

/// Confirms the payment of an order. With an attempt, the payment method is attached and the
/// PaymentIntent confirmed (the card is charged here); without one (after 3-D Secure, or to recover),
/// Stripe is only asked where the payment stands. Either way the answer is settled at once, without
/// waiting for the webhook.
pub async fn confirm(
    payments: &Payments,
    pool: &DbPool,
    buyer_id: Uuid,
    order_id: Uuid,
    attempt: Option<PaymentAttempt>,
    now: DateTime<Utc>,
) -> Result<PaymentSession, PaymentsError> {
    let order = buyers_order(pool, buyer_id, order_id).await?;
    let intent_id = order.payment_intent_id.clone().ok_or(PaymentsError::NotStarted)?;
    let mut intent = payments.gateway.retrieve_intent(&intent_id).await?;
    if let Some(attempt) = attempt
        && !matches!(intent.status, IntentStatus::Succeeded | IntentStatus::Processing)
    {
        ensure_payable(&order, now)?;
        if intent.status != IntentStatus::RequiresAction {
            let customer = customer_for(payments, pool, &order, now).await?;
            let token = &attempt.card_token;
            let save = keys::idempotency_key(pool, order_id, &format!("card:{token}"), now).await?;
            let method = &payments.gateway.attach_card(&customer, token, &save).await.map_err(|err| match err {
                // Stripe does not know the token (made up, or spent): the client's input is at fault.
                GatewayError::Rejected { status: 400 | 404, .. } => PaymentsError::Invalid(
                    crate::validation::FieldError::new(
                        "cardToken",
                        "invalid_card_token",
                        "This card could not be read. Enter the card again.",
                    )
                    .into(),
                ),
                other => other.into(),
            })?;
            let attach = keys::idempotency_key(pool, order_id, &format!("attach:{method}"), now).await?;
            payments.gateway.attach_payment_method(&intent_id, method, &attach).await?;
            // Stored once the card is accepted, before the charge (the confirmation email shows them).
            {
                let mut conn = db::conn(pool).await?;
                store::set_billing(&mut conn, order_id, &attempt.billing.to_json()).await?;
            }
            let confirm = keys::idempotency_key(pool, order_id, &format!("confirm:{method}"), now).await?;
            match payments.gateway.confirm_intent(&intent_id, &confirm).await {
                Ok(_) => {}
                Err(GatewayError::Declined { message, .. }) => {
                    record_status(payments, pool, order_id, &intent_id, now).await?;
                    return Err(PaymentsError::Declined(message));
                }
                Err(err) => return Err(err.into()),
            }
        }
        intent = payments.gateway.retrieve_intent(&intent_id).await?;
    }
    let order = settle_now(payments, pool, order_id, &intent, now).await?;
    Ok(PaymentSession { order, intent })
}

/// Settles what Stripe said about the order's PaymentIntent, in a transaction of its own; returns the
/// order as it then stands.
pub(crate) async fn settle_now(
    payments: &Payments,
    pool: &DbPool,
    order_id: Uuid,
    intent: &IntentSnapshot,
    now: DateTime<Utc>,
) -> Result<OrderRow, PaymentsError> {
    let mut conn = db::conn(pool).await?;
    conn.transaction(async |conn| settle::settle(conn, order_id, intent, &payments.terms, now).await).await?;
    store::find(&mut conn, order_id).await?.ok_or(PaymentsError::OrderNotFound)
}

async fn record_status(
    payments: &Payments,
    pool: &DbPool,
    order_id: Uuid,
    intent_id: &str,
    now: DateTime<Utc>,
) -> Result<(), PaymentsError> {
    let intent = payments.gateway.retrieve_intent(intent_id).await?;
    settle_now(payments, pool, order_id, &intent, now).await.map(drop)
}
