//! The `tickets` table.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::cursor::{MarketOrder, PageCursor};
use super::domain::TicketStatus;
use super::event::EventStart;
use crate::db::constant::TextConstant;
use crate::db::limit::LimitInText;
use crate::db::schema::tickets;

/// A listing as stored.
/// Also read from the change log, where the trigger keeps each change's row as JSON.
#[derive(Debug, Clone, Queryable, Selectable, serde::Deserialize)]
#[diesel(table_name = tickets)]
#[diesel(check_for_backend(Pg))]
pub struct TicketRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub event_name: String,
    pub venue: String,
    pub city: String,
    /// Unknown only for listings made before events were recorded (not for sale until given).
    pub event_starts_at: Option<DateTime<Utc>>,
    pub event_time_zone: Option<String>,
    pub section: Option<String>,
    pub seat_row: Option<String>,
    pub seat: Option<String>,
    pub face_value: i64,
    pub price: i64,
    pub currency: String,
    pub status: String,
    pub held_until: Option<DateTime<Utc>>,
    /// The order holding the ticket, while held.
    pub hold_order_id: Option<Uuid>,
    /// Where the file store keeps the ticket file; none yet: not for sale.
    pub file_key: Option<String>,
    pub file_content_type: Option<String>,
    pub file_bytes: Option<i32>,
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

    /// The event's start, when known.
    pub fn start(&self) -> Option<EventStart> {
        EventStart::from_stored(self.event_starts_at?, self.event_time_zone.as_deref()?)
    }

    /// Whether a buyer may reserve it now: available, with its ticket file, before its event starts.
    pub fn for_sale_at(&self, now: DateTime<Utc>) -> bool {
        self.deleted_at.is_none()
            && self.status_at(now) == TicketStatus::Available
            && self.file_key.is_some()
            && self.event_starts_at.is_some_and(|start| start > now)
    }
}

/// What a listing's owner sets: the event, the seat, the face value and the price.
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = tickets)]
#[diesel(treat_none_as_null = true)]
pub struct ListingFields<'a> {
    pub event_name: &'a str,
    pub venue: &'a str,
    pub city: &'a str,
    pub event_starts_at: Option<DateTime<Utc>>,
    pub event_time_zone: Option<&'a str>,
    pub event_local_date: Option<NaiveDate>,
    pub section: Option<&'a str>,
    pub seat_row: Option<&'a str>,
    pub seat: Option<&'a str>,
    pub face_value: i64,
    pub price: i64,
    pub currency: &'a str,
}

/// Which listings of the market to return (and so the key of a kept page, `market_pages`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ListFilter {
    /// Case-insensitive substring of the event's name, venue or city.
    pub text: Option<String>,
    /// The city, case-insensitive.
    pub city: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    /// Events starting on or after this day, at their venue.
    pub from: Option<NaiveDate>,
    /// Events starting on or before this day, at their venue.
    pub to: Option<NaiveDate>,
    pub order: MarketOrder,
    pub limit: i64,
    /// Only listings after this one in `order` (the previous page's end).
    pub after: Option<PageCursor>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    owner_id: Uuid,
    fields: &ListingFields<'_>,
    now: DateTime<Utc>,
) -> QueryResult<TicketRow> {
    diesel::insert_into(tickets::table)
        .values((
            tickets::id.eq(id),
            tickets::owner_id.eq(owner_id),
            fields,
            tickets::created_at.eq(now),
            tickets::updated_at.eq(now),
        ))
        .returning(TicketRow::as_returning())
        .get_result(conn)
        .await
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

/// Any listing, deleted or not.
pub async fn find_any(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<TicketRow>> {
    tickets::table.find(id).select(TicketRow::as_select()).first(conn).await.optional()
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

/// Escapes `%`, `_` and `\\` for a LIKE pattern.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The widest a venue's offset from UTC gets (UTC+14 and UTC-12): a day at any venue lies within its
/// UTC day widened by this much, which bounds a date filter's range of the start index.
const WIDEST_OFFSET: TimeDelta = TimeDelta::hours(14);

fn on_the_market(filter: &ListFilter, now: DateTime<Utc>) -> tickets::BoxedQuery<'static, Pg> {
    // The statuses are written into the statement, not bound, so the plan PostgreSQL keeps for it
    // matches the partial indexes.
    const SOLD: TextConstant = TextConstant::new(TicketStatus::Sold.as_str());
    const AVAILABLE: TextConstant = TextConstant::new(TicketStatus::Available.as_str());
    const HELD: TextConstant = TextConstant::new(TicketStatus::Held.as_str());
    let mut query = tickets::table
        .filter(tickets::deleted_at.is_null())
        // Implied by the next condition; stated so the planner matches the partial indexes.
        .filter(tickets::status.ne(SOLD))
        .filter(tickets::file_key.is_not_null())
        .filter(tickets::status.eq(AVAILABLE).or(tickets::status.eq(HELD).and(tickets::held_until.le(now))))
        .filter(tickets::event_starts_at.gt(now))
        .into_boxed();
    if let Some(text) = &filter.text {
        let pattern = format!("%{}%", like_escaped(text));
        query = query.filter(
            tickets::event_name
                .ilike(pattern.clone())
                .or(tickets::venue.ilike(pattern.clone()))
                .or(tickets::city.ilike(pattern)),
        );
    }
    if let Some(city) = &filter.city {
        query = query.filter(tickets::city.ilike(like_escaped(city)));
    }
    if let Some(min) = filter.min_price {
        query = query.filter(tickets::price.ge(min));
    }
    if let Some(max) = filter.max_price {
        query = query.filter(tickets::price.le(max));
    }
    if let Some(from) = filter.from {
        query = query
            .filter(tickets::event_local_date.ge(from))
            .filter(tickets::event_starts_at.ge(from.and_time(NaiveTime::MIN).and_utc() - WIDEST_OFFSET));
    }
    if let Some(to) = filter.to
        && let Some(next_day) = to.succ_opt()
    {
        query = query
            .filter(tickets::event_local_date.le(to))
            .filter(tickets::event_starts_at.lt(next_day.and_time(NaiveTime::MIN).and_utc() + WIDEST_OFFSET));
    }
    query
}

/// Listings on the market in `filter.order`, up to `filter.limit` of them after `filter.after`, and
/// where the next page starts if there is one. One indexed range scan (`tickets_market_start_idx` or
/// `tickets_market_price_idx`) whatever the page.
pub async fn list_available(
    conn: &mut AsyncPgConnection,
    filter: &ListFilter,
    now: DateTime<Utc>,
) -> QueryResult<(Vec<TicketRow>, Option<PageCursor>)> {
    let mut query = on_the_market(filter, now);
    // `(key, id) > (after)`, spelt so that the index range starts at the cursor's key (`key >= ...`,
    // an index condition) and only its ties are filtered; in diesel's own terms, so the statement
    // stays prepared.
    query = match filter.order {
        MarketOrder::Start => {
            if let Some(after) = filter.after
                && let Some(start) = after.start()
            {
                query = query.filter(
                    tickets::event_starts_at
                        .ge(start)
                        .and(tickets::event_starts_at.gt(start).or(tickets::id.gt(after.id))),
                );
            }
            query.order((tickets::event_starts_at.asc(), tickets::id.asc()))
        }
        MarketOrder::Price => {
            if let Some(after) = filter.after {
                query = query.filter(
                    tickets::price.ge(after.key).and(tickets::price.gt(after.key).or(tickets::id.gt(after.id))),
                );
            }
            query.order((tickets::price.asc(), tickets::id.asc()))
        }
    };
    // One row more than the page tells whether another page follows.
    let mut rows = LimitInText::new(query.select(TicketRow::as_select()), filter.limit + 1).load(conn).await?;
    let limit = usize::try_from(filter.limit).unwrap_or(0);
    rows.truncate(limit + 1);
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last().and_then(|last| match filter.order {
            MarketOrder::Start => last.event_starts_at.map(|start| PageCursor::after_start(start, last.id)),
            MarketOrder::Price => Some(PageCursor::after_price(last.price, last.id)),
        })
    });
    Ok((rows, next.flatten()))
}

/// A seller's listings that are not deleted, newest first.
pub async fn list_for_owner(conn: &mut AsyncPgConnection, owner_id: Uuid, limit: i64) -> QueryResult<Vec<TicketRow>> {
    tickets::table
        .filter(tickets::owner_id.eq(owner_id))
        .filter(tickets::deleted_at.is_null())
        .order((tickets::created_at.desc(), tickets::id.desc()))
        .limit(limit)
        .select(TicketRow::as_select())
        .load(conn)
        .await
}

/// Points the listing at a new ticket file and bumps the version.
pub async fn set_file(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    key: &str,
    content_type: &str,
    bytes: i32,
    now: DateTime<Utc>,
) -> QueryResult<TicketRow> {
    diesel::update(tickets::table.find(id))
        .set((
            tickets::file_key.eq(Some(key)),
            tickets::file_content_type.eq(Some(content_type)),
            tickets::file_bytes.eq(Some(bytes)),
            tickets::version.eq(tickets::version + 1),
            tickets::updated_at.eq(now),
        ))
        .returning(TicketRow::as_returning())
        .get_result(conn)
        .await
}

/// Replaces the owner-editable fields and bumps the version.
pub async fn update_fields(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    fields: &ListingFields<'_>,
    now: DateTime<Utc>,
) -> QueryResult<TicketRow> {
    diesel::update(tickets::table.find(id))
        .set((fields, tickets::version.eq(tickets::version + 1), tickets::updated_at.eq(now)))
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
