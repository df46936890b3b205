//! The `orders` table.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::orders;

/// Statuses in which an order holds or owns its ticket.
pub const LIVE: [&str; 3] = ["created", "awaiting_payment", "complete"];
/// Statuses in which an order holds its ticket until `expires_at`.
pub const HOLDING: [&str; 2] = ["created", "awaiting_payment"];

/// An order as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = orders)]
#[diesel(check_for_backend(Pg))]
pub struct OrderRow {
    pub id: Uuid,
    pub buyer_id: Uuid,
    pub ticket_id: Uuid,
    pub ticket_title: String,
    pub price: i64,
    pub currency: String,
    pub status: String,
    pub cancel_reason: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Name of the partial unique index allowing one live order per ticket.
pub const ONE_LIVE_PER_TICKET: &str = "orders_one_live_per_ticket";

pub async fn insert(conn: &mut AsyncPgConnection, row: &OrderRow) -> QueryResult<OrderRow> {
    diesel::insert_into(orders::table).values(row).returning(OrderRow::as_returning()).get_result(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<OrderRow>> {
    orders::table.find(id).select(OrderRow::as_select()).first(conn).await.optional()
}

pub async fn find_for_update(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<OrderRow>> {
    orders::table.find(id).select(OrderRow::as_select()).for_update().first(conn).await.optional()
}

/// A buyer's orders, newest first, and how many they have in all.
pub async fn list_for_buyer(
    conn: &mut AsyncPgConnection,
    buyer_id: Uuid,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<OrderRow>, i64)> {
    let rows = orders::table
        .filter(orders::buyer_id.eq(buyer_id))
        .order((orders::created_at.desc(), orders::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(OrderRow::as_select())
        .load(conn)
        .await?;
    let total = orders::table.filter(orders::buyer_id.eq(buyer_id)).count().get_result(conn).await?;
    Ok((rows, total))
}

/// How many holds the buyer has that have not lapsed.
pub async fn count_live_holds(conn: &mut AsyncPgConnection, buyer_id: Uuid, now: DateTime<Utc>) -> QueryResult<i64> {
    orders::table
        .filter(orders::buyer_id.eq(buyer_id))
        .filter(orders::status.eq_any(HOLDING))
        .filter(orders::expires_at.gt(now))
        .count()
        .get_result(conn)
        .await
}

/// Ends a holding order as cancelled, if it still holds. Returns the updated row.
pub async fn cancel_holding(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<OrderRow>> {
    diesel::update(orders::table.find(id).filter(orders::status.eq_any(HOLDING)))
        .set((
            orders::status.eq("cancelled"),
            orders::cancel_reason.eq(Some(reason)),
            orders::version.eq(orders::version + 1),
            orders::updated_at.eq(now),
        ))
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}
