//! `/api/payments`, `/api/orders/{id}/refund`, `/api/webhooks/stripe` and `/api/config`.

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::billing::BillingInput;
use super::refund::{RefundCaller, RefundOutcome, refund_order};
use super::webhooks::{WebhookOutcome, handle};
use super::{Billing, PaymentAttempt, PaymentSession, Payments, PaymentsError};
use crate::http::ApiTags;
use crate::http::auth::SessionAuth;
use crate::http::error::ApiError;
use crate::http::raw_json::RawJson;
use crate::http::text::Text;
use crate::orders::api::OrderView;
use crate::state::AppState;

/// Start paying for an order.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct StartPaymentRequest {
    order_id: Uuid,
}

/// Billing details for a payment.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct BillingRequest {
    name: Text<100>,
    line1: Text<200>,
    line2: Option<Text<200>>,
    city: Text<100>,
    region: Option<Text<100>>,
    postal_code: Text<20>,
    /// ISO 3166-1 alpha-2, e.g. `CA`.
    country: Text<2>,
}

/// Pay for an order with a card token from Stripe.js, or (with no token) ask where the payment
/// stands, e.g. after 3-D Secure.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct ConfirmPaymentRequest {
    order_id: Uuid,
    /// A card token (`tok_...`) from Stripe.js `createToken`.
    card_token: Option<Text<255>>,
    /// Required with `cardToken`.
    billing: Option<BillingRequest>,
}

/// A payment in progress, and the order it pays for.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct PaymentView {
    order_id: Uuid,
    payment_intent_id: String,
    /// For Stripe.js (3-D Secure); never logged.
    #[oai(skip_serializing_if_is_none)]
    client_secret: Option<String>,
    /// The total charged, in minor units.
    amount: i64,
    currency: String,
    /// The PaymentIntent's status at Stripe, e.g. `requires_payment_method`, `requires_action`, `succeeded`.
    status: String,
    order: OrderView,
}

impl PaymentView {
    fn new(session: PaymentSession, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            order_id: session.order.id,
            payment_intent_id: session.intent.id,
            client_secret: session.intent.client_secret,
            amount: session.intent.amount,
            currency: session.order.currency.clone(),
            status: session.intent.status.as_str().to_owned(),
            order: OrderView::new(session.order, now),
        }
    }
}

/// A refund request (`{}` for the full total). Only the full total can be refunded.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct RefundRequest {
    /// When given, must equal the order's total.
    amount: Option<i64>,
}

#[derive(ApiResponse)]
enum RefundResponse {
    /// Refunded in full.
    #[oai(status = 200)]
    Refunded(Json<OrderView>),
    /// Stripe accepted the refund and will finish it shortly.
    #[oai(status = 202)]
    Pending(Json<OrderView>),
}

/// Webhook receipt.
#[derive(Debug, Object)]
struct WebhookReceipt {
    received: bool,
    /// `handled`, `duplicate` or `ignored`.
    outcome: String,
}

/// What clients need to take payments.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct ClientConfig {
    /// Stripe publishable key; absent when payments are not configured.
    #[oai(skip_serializing_if_is_none)]
    stripe_publishable_key: Option<String>,
    /// Where to load Stripe.js from.
    #[oai(skip_serializing_if_is_none)]
    stripe_js_url: Option<String>,
    /// Default listing currency.
    currency: String,
    /// Tax rate in percent, e.g. `5`.
    tax_rate_percent: String,
    /// How long a reservation holds a listing, in seconds.
    hold_seconds: u64,
}

fn payments(state: &AppState) -> Result<&Payments, ApiError> {
    state.payments.as_deref().ok_or_else(|| PaymentsError::NotConfigured.into())
}

pub struct PaymentsApi;

#[OpenApi(tag = "ApiTags::Payments")]
impl PaymentsApi {
    /// Start paying for your reserved order: returns its PaymentIntent (created once, then reused).
    #[oai(path = "/payments", method = "post", operation_id = "start_payment")]
    async fn start(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        body: Json<StartPaymentRequest>,
    ) -> Result<Json<PaymentView>, ApiError> {
        let who = auth.user(&state).await?;
        let now = state.now();
        let grace = state.config.orders.payment_grace;
        let session = super::start(payments(&state)?, &state.pool, who.user_id, body.order_id, now, grace).await?;
        Ok(Json(PaymentView::new(session, now)))
    }

    /// Pay: charges the payment method and completes the order at once when Stripe says it succeeded.
    #[oai(path = "/payments/confirm", method = "post", operation_id = "confirm_payment")]
    async fn confirm(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        body: Json<ConfirmPaymentRequest>,
    ) -> Result<Json<PaymentView>, ApiError> {
        let who = auth.user(&state).await?;
        let attempt = match (&body.card_token, &body.billing) {
            (None, _) => None,
            (Some(token), billing) => {
                let token = token.as_str().trim();
                if !token.starts_with("tok_") || token.len() > 255 {
                    return Err(crate::validation::Invalid::from(crate::validation::FieldError::new(
                        "cardToken",
                        "invalid_card_token",
                        "Card token must be a Stripe.js token (tok_...).",
                    ))
                    .into());
                }
                let billing = billing.as_ref();
                let billing = Billing::parse(&BillingInput {
                    name: billing.map_or("", |b| b.name.as_str()),
                    line1: billing.map_or("", |b| b.line1.as_str()),
                    line2: billing.and_then(|b| b.line2.as_ref()).map(Text::as_str),
                    city: billing.map_or("", |b| b.city.as_str()),
                    region: billing.and_then(|b| b.region.as_ref()).map(Text::as_str),
                    postal_code: billing.map_or("", |b| b.postal_code.as_str()),
                    country: billing.map_or("", |b| b.country.as_str()),
                })
                .map_err(PaymentsError::from)?;
                Some(PaymentAttempt { card_token: token.to_owned(), billing })
            }
        };
        let now = state.now();
        let session = super::confirm(payments(&state)?, &state.pool, who.user_id, body.order_id, attempt, now).await?;
        Ok(Json(PaymentView::new(session, now)))
    }

    /// Refund your completed order in full. Asking again does not refund twice.
    #[oai(path = "/orders/:id/refund", method = "post", operation_id = "refund_order")]
    async fn refund(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        id: Path<Uuid>,
        body: Json<RefundRequest>,
    ) -> Result<RefundResponse, ApiError> {
        let who = auth.user(&state).await?;
        let now = state.now();
        if let Some(amount) = body.0.amount {
            let order = crate::orders::get(&state.pool, who.user_id, id.0).await?;
            if amount != order.total {
                return Err(PaymentsError::PartialRefund.into());
            }
        }
        let outcome = refund_order(payments(&state)?, &state.pool, id.0, RefundCaller::Buyer(who.user_id), now).await?;
        Ok(match outcome {
            RefundOutcome::Refunded(order) => RefundResponse::Refunded(Json(OrderView::new(order, now))),
            RefundOutcome::Pending(order) => RefundResponse::Pending(Json(OrderView::new(order, now))),
        })
    }

    /// Stripe's webhook endpoint: signed events about PaymentIntents and refunds.
    #[oai(path = "/webhooks/stripe", method = "post", operation_id = "stripe_webhook")]
    async fn webhook(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: RawJson,
    ) -> Result<Json<WebhookReceipt>, ApiError> {
        let signature = req.headers().get("stripe-signature").and_then(|value| value.to_str().ok());
        let outcome = handle(payments(&state)?, &state.pool, &body.0, signature, state.now()).await?;
        let outcome = match outcome {
            WebhookOutcome::Handled => "handled",
            WebhookOutcome::Duplicate => "duplicate",
            WebhookOutcome::Ignored => "ignored",
        };
        Ok(Json(WebhookReceipt { received: true, outcome: outcome.into() }))
    }

    /// Client configuration: Stripe.js, currency, tax and hold length.
    #[oai(path = "/config", method = "get", operation_id = "client_config")]
    async fn config(&self, state: Data<&Arc<AppState>>) -> Json<ClientConfig> {
        let stripe = state.config.stripe.as_ref();
        Json(ClientConfig {
            stripe_publishable_key: stripe.map(|s| s.publishable_key.clone()),
            stripe_js_url: stripe.map(|s| s.js_url.clone()),
            currency: crate::listings::domain::DEFAULT_CURRENCY.into(),
            tax_rate_percent: state.config.orders.tax_rate.percent(),
            hold_seconds: state.config.orders.hold.as_secs(),
        })
    }
}
