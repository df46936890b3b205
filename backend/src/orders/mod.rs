//! Orders: a buyer's 15-minute hold on a listing, its cancellation or expiry, and order history.

pub mod api;
pub mod batches;
pub mod holds;
pub mod reservation;
pub mod store;
pub mod sweep;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use uuid::Uuid;

pub use batches::ReservationBatches;
use reservation::Ask;
pub use store::OrderRow;

use crate::accounts::{self, SessionCheck};
use crate::db::{self, DbError, DbPool};
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
    /// The session presented with the request is not live.
    #[error("not signed in")]
    Unauthenticated,
    #[error("buyer owns the ticket")]
    OwnTicket,
    /// No event start or no ticket file yet.
    #[error("ticket is not for sale")]
    NotForSale,
    #[error("the event has started")]
    EventStarted,
    #[error("buyer already holds {max} tickets")]
    HoldLimit { max: i64 },
    #[error("order is {status} and cannot be cancelled")]
    NotCancellable { status: String },
    /// Its payment has started: Stripe must be asked before the hold ends (`payments::lapsed`).
    #[error("the order's payment has started")]
    PaymentStarted,
    #[error(transparent)]
    Db(#[from] DbError),
    /// The database failed the batch this reservation was sent in, and every reservation in it
    /// (`batches`); nothing of the batch was written, or, if its connection was lost, what was
    /// cannot be known here.
    #[error("reservation batch failed: {0}")]
    BatchFailed(std::sync::Arc<DbError>),
}

impl From<diesel::result::Error> for OrdersError {
    fn from(err: diesel::result::Error) -> Self {
        if db::is_unique_violation(&err, store::ONE_LIVE_PER_TICKET) {
            return Self::TicketUnavailable;
        }
        Self::Db(err.into())
    }
}

/// Reserves `ticket_id`, until the policy's hold from the time of `session`, for the user whose
/// session `session` checks: sent with the next batch of reservations (`batches`) to the SQL
/// function `reserve_tickets`, which checks the session and takes the hold, the order and its event
/// together (its comment states the rules and how races end). A ticket under a hold that has run
/// out is first freed here as the sweep would free it, with its events, and asked for again once.
pub async fn reserve(
    reservations: &ReservationBatches,
    session: &SessionCheck,
    ticket_id: Uuid,
) -> Result<OrderRow, OrdersError> {
    let ask = Ask { session: session.clone(), ticket_id };
    let first = reservations.reserve(ask.clone()).await;
    if !matches!(first, Err(reservation::Refusal::HoldLapsed)) {
        return first.map_err(OrdersError::from);
    }
    let mut conn = db::conn(reservations.pool()).await?;
    let handed_over = conn
        .transaction(async |conn| {
            let Some(ticket) = tickets::find_for_update(conn, ticket_id).await? else {
                return Ok::<_, OrdersError>(None);
            };
            holds::expire_if_lapsed(conn, &ticket, session.now).await?;
            // Someone waiting for it comes first (the second attempt then finds it held), and that
            // may be this buyer: then the hold handed over is the answer.
            let Some(offered) = crate::waitlist::offer(conn, ticket_id, session.now).await? else {
                return Ok(None);
            };
            let order = store::find(conn, offered).await?;
            let caller = accounts::session_user(conn, session.clone()).await?;
            Ok(order.filter(|order| caller == Some(order.buyer_id)))
        })
        .await?;
    drop(conn);
    if let Some(order) = handed_over {
        return Ok(order);
    }
    reservations.reserve(ask).await.map_err(OrdersError::from)
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
                crate::waitlist::offer(conn, ticket_id, now).await?;
            }
            return store::find(conn, order_id).await?.ok_or(OrdersError::OrderNotFound);
        }
        holds::release(conn, ticket_id, order_id, now).await?;
        let order =
            store::cancel_holding(conn, order_id, "buyer_cancelled", now).await?.ok_or(OrdersError::OrderNotFound)?;
        let event = Event::OrderCancelled { order_id, ticket_id, version: order.version };
        outbox::record(conn, &event, now).await?;
        crate::waitlist::offer(conn, ticket_id, now).await?;
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
