//! Holds: a listing reserved for one order until a deadline.
//!
//! A held ticket names its order (`tickets.hold_order_id`). A hold is taken by the reservation's SQL
//! function (`orders::reservation`); releasing one names the order, so a late or repeated release of
//! an old hold never frees a newer one. Lock order is always ticket row, then order row.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::store;
use crate::db::schema::tickets;
use crate::listings::TicketRow;
use crate::outbox::{self, Event};

/// Returns the ticket to the market if it is still under `order_id`'s hold.
pub async fn release(
    conn: &mut AsyncPgConnection,
    ticket_id: Uuid,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let updated = diesel::update(
        tickets::table.find(ticket_id).filter(tickets::status.eq("held")).filter(tickets::hold_order_id.eq(order_id)),
    )
    .set((
        tickets::status.eq("available"),
        tickets::held_until.eq(None::<DateTime<Utc>>),
        tickets::hold_order_id.eq(None::<Uuid>),
        tickets::version.eq(tickets::version + 1),
        tickets::updated_at.eq(now),
    ))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// Sells the ticket to `order_id`: from that order's hold, or (a late payment) from the market.
/// `false` when the ticket is held by someone else, sold or deleted.
pub async fn sell(
    conn: &mut AsyncPgConnection,
    ticket_id: Uuid,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let updated = diesel::update(tickets::table.find(ticket_id).filter(tickets::deleted_at.is_null()).filter(
        tickets::status.eq("held").and(tickets::hold_order_id.eq(order_id)).or(tickets::status.eq("available")),
    ))
    .set((
        tickets::status.eq("sold"),
        tickets::held_until.eq(None::<DateTime<Utc>>),
        tickets::hold_order_id.eq(None::<Uuid>),
        tickets::version.eq(tickets::version + 1),
        tickets::updated_at.eq(now),
    ))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// Takes a sold ticket back from its sale (the sale was refunded): it is available again, but without
/// its ticket file, which its refunded buyer has already received. Its seller attaches a reissued
/// ticket to sell it again. (The old file stays in the store, unreferenced.)
pub async fn unsell(conn: &mut AsyncPgConnection, ticket_id: Uuid, now: DateTime<Utc>) -> QueryResult<bool> {
    let updated = diesel::update(tickets::table.find(ticket_id).filter(tickets::status.eq("sold")))
        .set((
            tickets::status.eq("available"),
            tickets::file_key.eq(None::<String>),
            tickets::file_content_type.eq(None::<String>),
            tickets::file_bytes.eq(None::<i32>),
            tickets::version.eq(tickets::version + 1),
            tickets::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}

/// Keeps the ticket held past the hold's end, until `until`, for an order whose payment has started:
/// the ticket is released at the hold's end only once Stripe says the payment did not happen (see
/// `payments::lapsed`), or at `until` if Stripe cannot be asked.
pub async fn extend_for_payment(
    conn: &mut AsyncPgConnection,
    ticket_id: Uuid,
    order_id: Uuid,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let updated = diesel::update(
        tickets::table.find(ticket_id).filter(tickets::status.eq("held")).filter(tickets::hold_order_id.eq(order_id)),
    )
    .set((tickets::held_until.eq(Some(until)), tickets::updated_at.eq(now)))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// Why a hold ends without a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldEnd {
    /// Its time ran out: `order.expired`.
    Lapsed,
    /// Its buyer let it go: `order.cancelled`.
    BuyerCancelled,
}

/// Ends `order_id`'s hold on `ticket_id` (both locked by the caller): the ticket goes back on the
/// market and the order is cancelled, with the event `why` names. Nothing happens if the order no
/// longer holds.
pub async fn end(
    conn: &mut AsyncPgConnection,
    ticket_id: Uuid,
    order_id: Uuid,
    why: HoldEnd,
    now: DateTime<Utc>,
) -> QueryResult<Option<super::OrderRow>> {
    release(conn, ticket_id, order_id, now).await?;
    let reason = match why {
        HoldEnd::Lapsed => "expired",
        HoldEnd::BuyerCancelled => "buyer_cancelled",
    };
    let order = store::cancel_holding(conn, order_id, reason, now).await?;
    if let Some(order) = &order {
        let version = order.version;
        let event = match why {
            HoldEnd::Lapsed => Event::OrderExpired { order_id, ticket_id, version },
            HoldEnd::BuyerCancelled => Event::OrderCancelled { order_id, ticket_id, version },
        };
        outbox::record(conn, &event, now).await?;
    }
    Ok(order)
}

/// If `ticket` (locked by the caller) is under a hold that has lapsed, ends that hold now: the order is
/// cancelled as expired and the ticket released, exactly as the sweep would. A hold whose payment has
/// started lapses only at the end of its grace (`held_until`), not at the order's `expires_at`.
pub async fn expire_if_lapsed(conn: &mut AsyncPgConnection, ticket: &TicketRow, now: DateTime<Utc>) -> QueryResult<()> {
    let (Some(order_id), Some(until)) = (ticket.hold_order_id, ticket.held_until) else {
        return Ok(());
    };
    if until > now {
        return Ok(());
    }
    end(conn, ticket.id, order_id, HoldEnd::Lapsed, now).await.map(drop)
}

#[derive(QueryableByName)]
struct Expired {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    ticket_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    version: i32,
}

/// Releases lapsed holds and cancels their orders in one statement, skipping tickets another
/// transaction has locked (another sweeper, or a buyer mid-reservation).
const EXPIRE_BATCH: &str = "
WITH lapsed AS (
    SELECT id, hold_order_id FROM tickets
    WHERE status = 'held' AND held_until <= $1
    ORDER BY held_until
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), released AS (
    UPDATE tickets t
    SET status = 'available', held_until = NULL, hold_order_id = NULL, version = t.version + 1, updated_at = $1
    FROM lapsed
    WHERE t.id = lapsed.id
    RETURNING lapsed.hold_order_id AS order_id
)
UPDATE orders o
SET status = 'cancelled', cancel_reason = 'expired', version = o.version + 1, updated_at = $1
FROM released
WHERE o.id = released.order_id AND o.status IN ('created', 'awaiting_payment')
RETURNING o.id, o.ticket_id, o.version";

/// Ends up to `batch` lapsed holds in the caller's transaction, recording an `order.expired` event for
/// each, and hands each listing someone waits for to the first in its line. Returns how many holds
/// ended.
pub async fn expire_batch(conn: &mut AsyncPgConnection, now: DateTime<Utc>, batch: i64) -> QueryResult<usize> {
    let expired: Vec<Expired> =
        diesel::sql_query(EXPIRE_BATCH).bind::<Timestamptz, _>(now).bind::<BigInt, _>(batch).load(conn).await?;
    let events: Vec<Event> = expired
        .iter()
        .map(|order| Event::OrderExpired { order_id: order.id, ticket_id: order.ticket_id, version: order.version })
        .collect();
    outbox::record_all(conn, &events, now).await?;
    let released: Vec<Uuid> = expired.iter().map(|order| order.ticket_id).collect();
    crate::waitlist::offer_each(conn, &released, now).await?;
    Ok(expired.len())
}
