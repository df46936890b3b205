//! `/api/orders`: reserve a listing, release a hold, and order history.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::OrderRow;
use crate::http::ApiTags;
use crate::http::auth::SessionAuth;
use crate::http::error::ApiError;
use crate::state::AppState;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum OrderStatus {
    /// Reserved; the buyer may pay until `expiresAt`.
    Created,
    /// Payment started.
    AwaitingPayment,
    /// Paid; the ticket is the buyer's.
    Complete,
    /// Ended without a sale; see `cancelReason`.
    Cancelled,
    /// Paid, then refunded in full.
    Refunded,
}

/// Why an order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum CancelReason {
    /// The hold ran out before payment.
    Expired,
    /// The buyer released the hold.
    BuyerCancelled,
}

/// Why an order was refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum RefundReason {
    /// The buyer asked for their money back.
    RequestedByBuyer,
    /// The payment arrived after the hold lapsed and the listing had gone to someone else (or had
    /// changed since it was reserved).
    PaidAfterHoldLapsed,
    /// Refunded at Stripe (its dashboard), not through this API.
    RefundedAtStripe,
    /// The buyer's bank disputed the charge and took the money back.
    DisputeLost,
}

/// Where a dispute (chargeback) of the order's payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum DisputeStatus {
    /// The buyer's bank is deciding.
    Open,
    /// Decided for the sale: it stands.
    Won,
    /// Decided for the buyer: the money went back and the order is refunded.
    Lost,
}

/// Billing details given at checkout.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct BillingView {
    name: String,
    line1: String,
    #[oai(skip_serializing_if_is_none)]
    line2: Option<String>,
    city: String,
    #[oai(skip_serializing_if_is_none)]
    region: Option<String>,
    postal_code: String,
    country: String,
}

/// An order: a reservation, then a purchase.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct OrderView {
    id: Uuid,
    ticket_id: Uuid,
    /// The event's name when the listing was reserved.
    ticket_title: String,
    /// When the event starts: holds end by then, and refunds close then.
    #[oai(skip_serializing_if_is_none)]
    event_starts_at: Option<DateTime<Utc>>,
    /// Whether the ticket file is yours to download now (`GET /api/orders/{id}/ticket`): paid, and
    /// not refunded or being refunded.
    ticket_downloadable: bool,
    /// The listing's price when it was reserved, in minor units.
    price: i64,
    /// Tax in minor units.
    tax: i64,
    /// `price + tax`: exactly what is charged.
    total: i64,
    currency: String,
    status: OrderStatus,
    #[oai(skip_serializing_if_is_none)]
    cancel_reason: Option<CancelReason>,
    /// When the hold ends unless the order is paid.
    expires_at: DateTime<Utc>,
    /// The payment's status at Stripe, once payment has started.
    #[oai(skip_serializing_if_is_none)]
    payment_status: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    billing: Option<BillingView>,
    /// When Stripe charged the card.
    #[oai(skip_serializing_if_is_none)]
    paid_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    completed_at: Option<DateTime<Utc>>,
    /// Set once the buyer's bank disputed the charge.
    #[oai(skip_serializing_if_is_none)]
    dispute: Option<DisputeStatus>,
    #[oai(skip_serializing_if_is_none)]
    refunded_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    refund_reason: Option<RefundReason>,
    /// A refund has been asked of Stripe and is not finished yet.
    refund_pending: bool,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl OrderView {
    pub fn new(row: OrderRow, now: DateTime<Utc>) -> Self {
        // A lapsed hold whose payment started waits for Stripe's word before it ends.
        let lapsed = super::lapsed(&row, now) && row.payment_intent_id.is_none();
        let status = match row.status.as_str() {
            _ if lapsed => OrderStatus::Cancelled,
            "awaiting_payment" => OrderStatus::AwaitingPayment,
            "complete" => OrderStatus::Complete,
            "cancelled" => OrderStatus::Cancelled,
            "refunded" => OrderStatus::Refunded,
            _ => OrderStatus::Created,
        };
        let cancel_reason = match row.cancel_reason.as_deref() {
            _ if lapsed => Some(CancelReason::Expired),
            Some("expired") => Some(CancelReason::Expired),
            Some(_) => Some(CancelReason::BuyerCancelled),
            None => None,
        };
        let billing = row.billing.as_ref().and_then(crate::payments::Billing::from_json).map(|b| BillingView {
            name: b.name,
            line1: b.line1,
            line2: b.line2,
            city: b.city,
            region: b.region,
            postal_code: b.postal_code,
            country: b.country,
        });
        let refund_reason = match (row.status.as_str(), row.refund_reason.as_deref()) {
            ("refunded", Some("paid_after_hold_lapsed")) => Some(RefundReason::PaidAfterHoldLapsed),
            ("refunded", Some("refunded_at_stripe")) => Some(RefundReason::RefundedAtStripe),
            ("refunded", Some("dispute_lost")) => Some(RefundReason::DisputeLost),
            ("refunded", _) => Some(RefundReason::RequestedByBuyer),
            _ => None,
        };
        Self {
            ticket_downloadable: crate::ticket_files::withheld(&row).is_none(),
            event_starts_at: row.event_starts_at,
            id: row.id,
            ticket_id: row.ticket_id,
            ticket_title: row.ticket_title,
            price: row.price,
            tax: row.tax,
            total: row.total,
            currency: row.currency,
            status,
            cancel_reason,
            expires_at: row.expires_at,
            payment_status: row.intent_status,
            billing,
            paid_at: row.paid_at,
            completed_at: row.completed_at,
            dispute: match row.dispute_status.as_deref() {
                Some("open") => Some(DisputeStatus::Open),
                Some("won") => Some(DisputeStatus::Won),
                Some("lost") => Some(DisputeStatus::Lost),
                _ => None,
            },
            refunded_at: row.refunded_at,
            refund_reason,
            refund_pending: row.refund_requested_at.is_some() && row.status != "refunded",
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// One page of the caller's orders, newest first.
#[derive(Debug, Object)]
struct OrderPage {
    items: Vec<OrderView>,
    total: i64,
    limit: i64,
    offset: i64,
}

/// Reserve a listing.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct ReserveRequest {
    ticket_id: Uuid,
}

#[derive(ApiResponse)]
enum Reserved {
    /// Reserved: the listing is held for the buyer until `expiresAt`.
    #[oai(status = 201)]
    Created(Json<OrderView>),
}

pub struct OrdersApi;

#[OpenApi(tag = "ApiTags::Orders", prefix_path = "/orders")]
impl OrdersApi {
    /// Reserve someone else's available listing. One live reservation per listing wins; others get 409.
    #[oai(path = "/", method = "post", operation_id = "reserve_ticket")]
    async fn reserve(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        body: Json<ReserveRequest>,
    ) -> Result<Reserved, ApiError> {
        let session = auth.check(&state);
        let order = super::reserve(&state.reservations, &session, body.ticket_id).await?;
        Ok(Reserved::Created(Json(OrderView::new(order, session.now))))
    }

    /// Your orders, newest first.
    #[oai(path = "/", method = "get", operation_id = "list_orders")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        /// Page size, 1 to 100 (default 20).
        #[oai(default = "crate::http::default_page_size", validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<i64>,
        /// How many orders to skip.
        #[oai(default, validator(minimum(value = "0"), maximum(value = "1000000")))]
        offset: Query<i64>,
    ) -> Result<Json<OrderPage>, ApiError> {
        let who = auth.user(&state).await?;
        let now = state.now();
        let (rows, total) = super::list(&state.pool, who.user_id, limit.0, offset.0).await?;
        let items = rows.into_iter().map(|row| OrderView::new(row, now)).collect();
        Ok(Json(OrderPage { items, total, limit: limit.0, offset: offset.0 }))
    }

    /// One of your orders.
    #[oai(path = "/:id", method = "get", operation_id = "get_order")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<Json<OrderView>, ApiError> {
        let who = auth.user(&state).await?;
        let order = super::get(&state.pool, who.user_id, id.0).await?;
        Ok(Json(OrderView::new(order, state.now())))
    }

    /// Release your hold now; the listing goes back on the market.
    #[oai(path = "/:id/cancel", method = "post", operation_id = "cancel_order")]
    async fn cancel(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<Json<OrderView>, ApiError> {
        let who = auth.user(&state).await?;
        let now = state.now();
        let order = match super::cancel(&state.pool, who.user_id, id.0, now).await {
            // Stripe is asked first: a payment that went through completes the order instead.
            Err(super::OrdersError::PaymentStarted) => {
                let payments = state.payments.as_deref().ok_or(crate::payments::PaymentsError::NotConfigured)?;
                crate::payments::lapsed::cancel_by_buyer(payments, &state.pool, who.user_id, id.0, now).await?
            }
            other => other?,
        };
        Ok(Json(OrderView::new(order, now)))
    }
}
