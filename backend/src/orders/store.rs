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
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = orders)]
#[diesel(check_for_backend(Pg))]
pub struct OrderRow {
    pub id: Uuid,
    pub buyer_id: Uuid,
    pub ticket_id: Uuid,
    pub ticket_title: String,
    pub price: i64,
    pub tax: i64,
    /// `price + tax`: what is charged and shown.
    pub total: i64,
    pub currency: String,
    pub status: String,
    pub cancel_reason: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub payment_intent_id: Option<String>,
    /// The PaymentIntent's status as last seen.
    pub intent_status: Option<String>,
    pub billing: Option<serde_json::Value>,
    pub completed_at: Option<DateTime<Utc>>,
    pub refund_requested_at: Option<DateTime<Utc>>,
    pub refund_id: Option<String>,
    pub refunded_at: Option<DateTime<Utc>>,
    pub refund_reason: Option<String>,
    /// When Stripe charged the card.
    pub paid_at: Option<DateTime<Utc>>,
    /// Refund requests sent to Stripe so far (each with a key of its own).
    pub refund_attempts: i32,
    /// `open`, `won` or `lost`, once the buyer's bank disputed the charge.
    pub dispute_status: Option<String>,
    pub dispute_id: Option<String>,
    pub disputed_at: Option<DateTime<Utc>>,
    /// When the ticket's event starts (unknown for orders made before events were recorded): no hold
    /// outlives it, and refunds close then.
    pub event_starts_at: Option<DateTime<Utc>>,
}

/// Name of the partial unique index allowing one live order per ticket.
pub const ONE_LIVE_PER_TICKET: &str = "orders_one_live_per_ticket";

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

/// Marks a holding order as being paid through `intent_id`.
pub async fn start_payment(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    intent_id: &str,
    intent_status: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<OrderRow>> {
    diesel::update(
        orders::table.find(id).filter(orders::status.eq_any(HOLDING)).filter(orders::payment_intent_id.is_null()),
    )
    .set((
        orders::payment_intent_id.eq(Some(intent_id)),
        orders::intent_status.eq(Some(intent_status)),
        orders::status.eq("awaiting_payment"),
        orders::version.eq(orders::version + 1),
        orders::updated_at.eq(now),
    ))
    .returning(OrderRow::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Records the PaymentIntent status last seen, never replacing a final one.
pub async fn record_intent_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    intent_status: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(
        orders::table
            .find(id)
            .filter(orders::intent_status.is_null().or(orders::intent_status.ne_all(["succeeded", "canceled"]))),
    )
    .filter(orders::intent_status.is_distinct_from(intent_status))
    .set((orders::intent_status.eq(Some(intent_status)), orders::updated_at.eq(now)))
    .execute(conn)
    .await
    .map(drop)
}

pub async fn set_billing(conn: &mut AsyncPgConnection, id: Uuid, billing: &serde_json::Value) -> QueryResult<()> {
    diesel::update(orders::table.find(id)).set(orders::billing.eq(Some(billing))).execute(conn).await.map(drop)
}

/// Records when Stripe charged the card.
pub async fn record_paid_at(conn: &mut AsyncPgConnection, id: Uuid, paid_at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(orders::table.find(id).filter(orders::paid_at.is_null()))
        .set(orders::paid_at.eq(Some(paid_at)))
        .execute(conn)
        .await
        .map(drop)
}

/// Completes a paid order, from holding or (paid late, listing still free) from cancelled.
pub async fn complete(conn: &mut AsyncPgConnection, id: Uuid, now: DateTime<Utc>) -> QueryResult<OrderRow> {
    diesel::update(orders::table.find(id))
        .set((
            orders::status.eq("complete"),
            orders::cancel_reason.eq(None::<String>),
            orders::completed_at.eq(Some(now)),
            orders::version.eq(orders::version + 1),
            orders::updated_at.eq(now),
        ))
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .await
}

/// Notes that a refund is being asked of Stripe, and why.
pub async fn request_refund(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> QueryResult<OrderRow> {
    diesel::update(orders::table.find(id))
        .set((
            orders::refund_requested_at.eq(Some(now)),
            orders::refund_reason.eq(Some(reason)),
            orders::version.eq(orders::version + 1),
            orders::updated_at.eq(now),
        ))
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .await
}

/// Forgets a refund request Stripe refused, so it can be asked again.
pub async fn clear_refund_request(conn: &mut AsyncPgConnection, id: Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(orders::table.find(id).filter(orders::status.eq("complete")))
        .set((
            orders::refund_requested_at.eq(None::<DateTime<Utc>>),
            orders::refund_reason.eq(None::<String>),
            orders::updated_at.eq(now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Counts one more refund request about to be sent to Stripe (committed before it is sent), if no
/// other worker has counted one since `seen` was read; returns its number, which names its key.
pub async fn next_refund_attempt(conn: &mut AsyncPgConnection, id: Uuid, seen: i32) -> QueryResult<Option<i32>> {
    diesel::update(orders::table.find(id).filter(orders::refund_attempts.eq(seen)))
        .set(orders::refund_attempts.eq(orders::refund_attempts + 1))
        .returning(orders::refund_attempts)
        .get_result(conn)
        .await
        .optional()
}

/// Names why a refund happened, when nothing asked for it through the API (Stripe's dashboard, a
/// lost dispute).
pub async fn note_refund_reason(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(orders::table.find(id).filter(orders::refund_reason.is_null()))
        .set((
            orders::refund_reason.eq(Some(reason)),
            orders::refund_requested_at.eq(Some(now)),
            orders::updated_at.eq(now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Records a dispute of the order's charge. `open` never replaces a decided dispute, so events that
/// arrive out of order cannot reopen one.
pub async fn record_dispute(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    dispute_id: &str,
    status: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let target = orders::table.find(id);
    let updated =
        if status == "open" {
            // A dispute not seen before: on an undisputed order, or after an earlier one was decided.
            diesel::update(
                target.filter(
                    orders::dispute_status
                        .is_null()
                        .or(orders::dispute_id.is_distinct_from(dispute_id).and(orders::dispute_status.ne("open"))),
                ),
            )
            .set((
                orders::dispute_status.eq(Some(status)),
                orders::dispute_id.eq(Some(dispute_id)),
                orders::disputed_at.eq(Some(now)),
                orders::version.eq(orders::version + 1),
                orders::updated_at.eq(now),
            ))
            .execute(conn)
            .await?
        } else {
            // The decision on this dispute (or on one whose opening we never heard of).
            diesel::update(target.filter(orders::dispute_id.is_null().or(orders::dispute_id.eq(dispute_id))))
                .filter(orders::dispute_status.is_null().or(orders::dispute_status.eq("open")))
                .set((
                    orders::dispute_status.eq(Some(status)),
                    orders::dispute_id.eq(Some(dispute_id)),
                    orders::disputed_at.eq(diesel::dsl::sql::<
                        diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                    >("coalesce(disputed_at, ")
                    .bind::<diesel::sql_types::Timestamptz, _>(now)
                    .sql(")")),
                    orders::version.eq(orders::version + 1),
                    orders::updated_at.eq(now),
                ))
                .execute(conn)
                .await?
        };
    Ok(updated == 1)
}

pub async fn set_refund_id(conn: &mut AsyncPgConnection, id: Uuid, refund_id: &str) -> QueryResult<()> {
    diesel::update(orders::table.find(id)).set(orders::refund_id.eq(Some(refund_id))).execute(conn).await.map(drop)
}

/// Marks the order refunded, as Stripe confirmed.
pub async fn mark_refunded(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    refund_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<OrderRow> {
    diesel::update(orders::table.find(id))
        .set((
            orders::status.eq("refunded"),
            orders::cancel_reason.eq(None::<String>),
            orders::refund_id.eq(Some(refund_id)),
            orders::refunded_at.eq(Some(now)),
            orders::version.eq(orders::version + 1),
            orders::updated_at.eq(now),
        ))
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn find_by_intent(conn: &mut AsyncPgConnection, intent_id: &str) -> QueryResult<Option<OrderRow>> {
    orders::table
        .filter(orders::payment_intent_id.eq(intent_id))
        .select(OrderRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Orders whose PaymentIntent may have moved without us hearing: not final, untouched since `before`.
pub async fn unsettled_intents(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<OrderRow>> {
    orders::table
        .filter(orders::payment_intent_id.is_not_null())
        .filter(orders::intent_status.is_null().or(orders::intent_status.ne_all(["succeeded", "canceled"])))
        .filter(orders::status.eq_any(["created", "awaiting_payment", "cancelled"]))
        .filter(orders::updated_at.le(before))
        .order(orders::updated_at)
        .limit(limit)
        .select(OrderRow::as_select())
        .load(conn)
        .await
}

/// Notes that reconciliation looked at the order and could not settle it, so it goes to the back of
/// the line (and is looked at again after `RECONCILE_AFTER`) instead of starving the rest.
pub async fn touch(conn: &mut AsyncPgConnection, id: Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(orders::table.find(id)).set(orders::updated_at.eq(now)).execute(conn).await.map(drop)
}

/// Refunds asked of Stripe before `before`, not yet confirmed, and not looked at since.
pub async fn stalled_refunds(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<OrderRow>> {
    orders::table
        .filter(orders::refund_requested_at.le(before))
        .filter(orders::updated_at.le(before))
        .filter(orders::status.ne("refunded"))
        .order(orders::updated_at)
        .limit(limit)
        .select(OrderRow::as_select())
        .load(conn)
        .await
}
