//! The `tickets` table.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::cursor::PageCursor;
use super::domain::TicketStatus;
use crate::db::schema::tickets;

/// A listing as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tickets)]
#[diesel(check_for_backend(Pg))]
pub struct TicketRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub price: i64,
    pub currency: String,
    pub status: String,
    pub held_until: Option<DateTime<Utc>>,
    /// The order holding the ticket, while held.
    pub hold_order_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl TicketRow {
    /// The status as of `now`: a hold whose time has passed no longer holds.
    pub fn status_at(&self, now: DateTime<Utc>) -> TicketStatus {
        match (TicketStatus::from_db(&self.status), self.held_until) {
            (TicketStatus::Held, Some(until)) if until <= now => TicketStatus::Available,
            (status, _) => status,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tickets)]
pub struct NewTicketRow<'a> {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: &'a str,
    pub price: i64,
    pub currency: &'a str,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which available listings to return.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Case-insensitive substring of the title.
    pub text: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub limit: i64,
    /// Only listings after this one in the market's order (the previous page's end).
    pub after: Option<PageCursor>,
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &NewTicketRow<'_>) -> QueryResult<TicketRow> {
    diesel::insert_into(tickets::table).values(row).returning(TicketRow::as_returning()).get_result(conn).await
}

/// A listing that has not been deleted.
pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<TicketRow>> {
    tickets::table
        .find(id)
        .filter(tickets::deleted_at.is_null())
        .select(TicketRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Any listing, deleted or not, locked until the transaction ends.
pub async fn lock_any(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<TicketRow>> {
    tickets::table.find(id).select(TicketRow::as_select()).for_update().first(conn).await.optional()
}

/// Like [`find`], locking the row until the transaction ends.
pub async fn find_for_update(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<TicketRow>> {
    tickets::table
        .find(id)
        .filter(tickets::deleted_at.is_null())
        .select(TicketRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

fn available_at(filter: &ListFilter, now: DateTime<Utc>) -> tickets::BoxedQuery<'static, Pg> {
    let mut query = tickets::table
        .filter(tickets::deleted_at.is_null())
        // Implied by the next condition; stated so the planner matches the partial index.
        .filter(tickets::status.ne("sold"))
        .filter(tickets::status.eq("available").or(tickets::status.eq("held").and(tickets::held_until.le(now))))
        .into_boxed();
    if let Some(text) = &filter.text {
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        query = query.filter(tickets::title.ilike(format!("%{escaped}%")));
    }
    if let Some(min) = filter.min_price {
        query = query.filter(tickets::price.ge(min));
    }
    if let Some(max) = filter.max_price {
        query = query.filter(tickets::price.le(max));
    }
    query
}

/// Available listings, newest first, up to `filter.limit` of them after `filter.after`, and where the
/// next page starts if there is one. One indexed range scan (`tickets_listed_idx`) whatever the page.
pub async fn list_available(
    conn: &mut AsyncPgConnection,
    filter: &ListFilter,
    now: DateTime<Utc>,
) -> QueryResult<(Vec<TicketRow>, Option<PageCursor>)> {
    let mut query = available_at(filter, now);
    if let Some(after) = filter.after {
        // `(created_at, id) < (after)`, spelt so that the index range starts at the cursor's time
        // (`created_at <= ...`, an index condition) and only its ties are filtered; in diesel's
        // own terms, so the statement stays prepared.
        query = query.filter(
            tickets::created_at
                .le(after.created_at)
                .and(tickets::created_at.lt(after.created_at).or(tickets::id.lt(after.id))),
        );
    }
    let mut rows = query
        .select(TicketRow::as_select())
        .order((tickets::created_at.desc(), tickets::id.desc()))
        .limit(filter.limit + 1)
        .load(conn)
        .await?;
    let limit = usize::try_from(filter.limit).unwrap_or(0);
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last().map(|last| PageCursor { created_at: last.created_at, id: last.id })
    });
    Ok((rows, next.flatten()))
}

/// Replaces the owner-editable fields and bumps the version.
pub async fn update_fields(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    title: &str,
    price: i64,
    currency: &str,
    now: DateTime<Utc>,
) -> QueryResult<TicketRow> {
    diesel::update(tickets::table.find(id))
        .set((
            tickets::title.eq(title),
            tickets::price.eq(price),
            tickets::currency.eq(currency),
            tickets::version.eq(tickets::version + 1),
            tickets::updated_at.eq(now),
        ))
        .returning(TicketRow::as_returning())
        .get_result(conn)
        .await
}

/// Takes the listing off the market for good; its orders keep their history.
pub async fn mark_deleted(conn: &mut AsyncPgConnection, id: Uuid, now: DateTime<Utc>) -> QueryResult<TicketRow> {
    diesel::update(tickets::table.find(id))
        .set((tickets::deleted_at.eq(now), tickets::version.eq(tickets::version + 1), tickets::updated_at.eq(now)))
        .returning(TicketRow::as_returning())
        .get_result(conn)
        .await
}
