//! Orders: a buyer's 15-minute hold on a listing, its cancellation or expiry, and order history.

pub mod api;
pub mod holds;
pub mod store;
pub mod sweep;

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

pub use store::OrderRow;

use crate::config::OrderPolicy;
use crate::db::schema::users;
use crate::db::{self, DbError, DbPool};
use crate::listings::domain::TicketStatus;
use crate::listings::store as tickets;
use crate::outbox::{self, Event};

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("order not found")]
    OrderNotFound,
    #[error("ticket not found")]
    TicketNotFound,
    #[error("ticket is not available")]
    TicketUnavailable,
    #[error("buyer owns the ticket")]
    OwnTicket,
    #[error("buyer already holds {max} tickets")]
    HoldLimit { max: i64 },
    #[error("order is {status} and cannot be cancelled")]
    NotCancellable { status: String },
    /// Its payment has started: Stripe must be asked before the hold ends (`payments::lapsed`).
    #[error("the order's payment has started")]
    PaymentStarted,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for OrdersError {
    fn from(err: diesel::result::Error) -> Self {
        if db::is_unique_violation(&err, store::ONE_LIVE_PER_TICKET) {
            return Self::TicketUnavailable;
        }
        Self::Db(err.into())
    }
}

/// Reserves `ticket_id` for `buyer_id` until `now + policy.hold`.
///
/// Exactly one of any number of simultaneous reservations of one ticket wins: the ticket row is
/// locked, the hold is a conditional update on an available ticket, and the partial unique index
/// `orders_one_live_per_ticket` refuses a second live order whatever the code does.
pub async fn reserve(
    pool: &DbPool,
    buyer_id: Uuid,
    ticket_id: Uuid,
    now: DateTime<Utc>,
    policy: OrderPolicy,
) -> Result<OrderRow, OrdersError> {
    let mut conn = db::conn(pool).await?;
    conn.transaction(async |conn| {
        // One buyer's reservations queue up here, so the hold limit survives concurrent requests.
        users::table.find(buyer_id).select(users::id).for_update().first::<Uuid>(conn).await?;
        let ticket = tickets::find_for_update(conn, ticket_id).await?.ok_or(OrdersError::TicketNotFound)?;
        if ticket.owner_id == buyer_id {
            return Err(OrdersError::OwnTicket);
        }
        if ticket.status_at(now) != TicketStatus::Available {
            return Err(OrdersError::TicketUnavailable);
        }
        holds::expire_if_lapsed(conn, &ticket, now).await?;
        if store::count_live_holds(conn, buyer_id, now).await? >= policy.max_live_holds {
            return Err(OrdersError::HoldLimit { max: policy.max_live_holds });
        }
        let order_id = Uuid::new_v4();
        let expires_at = now + TimeDelta::from_std(policy.hold).unwrap_or(TimeDelta::MAX);
        if !holds::take(conn, ticket_id, order_id, expires_at, now).await? {
            return Err(OrdersError::TicketUnavailable);
        }
        let order = store::insert(
            conn,
            &OrderRow {
                id: order_id,
                buyer_id,
                ticket_id,
                ticket_title: ticket.title.clone(),
                price: ticket.price,
                tax: policy.tax_rate.tax_on(ticket.price),
                total: ticket.price + policy.tax_rate.tax_on(ticket.price),
                currency: ticket.currency.clone(),
                status: "created".into(),
                cancel_reason: None,
                expires_at,
                version: 1,
                created_at: now,
                updated_at: now,
                payment_intent_id: None,
                intent_status: None,
                billing: None,
                completed_at: None,
                refund_requested_at: None,
                refund_id: None,
                refunded_at: None,
                refund_reason: None,
                paid_at: None,
                refund_attempts: 0,
                dispute_status: None,
                dispute_id: None,
                disputed_at: None,
            },
        )
        .await?;
        let event = Event::OrderCreated { order_id, ticket_id, buyer_id, expires_at, version: order.version };
        outbox::record(conn, &event, now).await?;
        Ok(order)
    })
    .await
}

/// The buyer releases a hold at once.
pub async fn cancel(
    pool: &DbPool,
    buyer_id: Uuid,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> Result<OrderRow, OrdersError> {
    let mut conn = db::conn(pool).await?;
    let ticket_id = store::find(&mut conn, order_id)
        .await?
        .filter(|order| order.buyer_id == buyer_id)
        .ok_or(OrdersError::OrderNotFound)?
        .ticket_id;
    conn.transaction(async |conn| {
        // Lock order: ticket, then order, as everywhere else.
        let ticket = tickets::find_for_update(conn, ticket_id).await?;
        let order = store::find_for_update(conn, order_id).await?.ok_or(OrdersError::OrderNotFound)?;
        if !store::HOLDING.contains(&order.status.as_str()) {
            return Err(OrdersError::NotCancellable { status: order.status });
        }
        if order.payment_intent_id.is_some() {
            return Err(OrdersError::PaymentStarted);
        }
        if order.expires_at <= now {
            // Lapsed already: end it as the sweep would have, and report it as it now stands.
            if let Some(ticket) = &ticket {
                holds::expire_if_lapsed(conn, ticket, now).await?;
            }
            return store::find(conn, order_id).await?.ok_or(OrdersError::OrderNotFound);
        }
        holds::release(conn, ticket_id, order_id, now).await?;
        let order =
            store::cancel_holding(conn, order_id, "buyer_cancelled", now).await?.ok_or(OrdersError::OrderNotFound)?;
        let event = Event::OrderCancelled { order_id, ticket_id, version: order.version };
        outbox::record(conn, &event, now).await?;
        Ok(order)
    })
    .await
}

/// One of the buyer's orders; other people's orders do not exist for them.
pub async fn get(pool: &DbPool, buyer_id: Uuid, order_id: Uuid) -> Result<OrderRow, OrdersError> {
    let mut conn = db::conn(pool).await?;
    store::find(&mut conn, order_id).await?.filter(|order| order.buyer_id == buyer_id).ok_or(OrdersError::OrderNotFound)
}

pub async fn list(pool: &DbPool, buyer_id: Uuid, limit: i64, offset: i64) -> Result<(Vec<OrderRow>, i64), OrdersError> {
    let mut conn = db::conn(pool).await?;
    Ok(store::list_for_buyer(&mut conn, buyer_id, limit, offset).await?)
}

/// Whether an order is still waiting on its buyer but its hold has run out.
pub fn lapsed(order: &OrderRow, now: DateTime<Utc>) -> bool {
    store::HOLDING.contains(&order.status.as_str()) && order.expires_at <= now
}
